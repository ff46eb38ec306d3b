# Regenerates r_reference.json: expected values for tests/stats/test_stats_r_reference.py.
# Run from this folder:  Rscript make_r_reference.R   (R >= 4.2 from Debian r-base-core, and the
# coin package, Debian r-cran-coin, for exact signed-rank p-values with ties).
# Every value is stored next to the R expression that produced it; the tests never need R.

fmt <- function(x) sprintf("%.17g", x)
json_str <- function(s) paste0('"', gsub('"', '\\\\"', s), '"')
json_vec <- function(v) paste0("[", paste(fmt(v), collapse = ", "), "]")

case <- function(name, description, before, after, calls) {
  env <- new.env()
  assign("before", before, envir = env)
  assign("after", after, envir = env)
  values <- vapply(names(calls), function(key) {
    value <- as.numeric(eval(parse(text = calls[[key]]), envir = env))
    sprintf('      {"key": %s, "r_call": %s, "value": %s}',
            json_str(key), json_str(calls[[key]]), fmt(value))
  }, character(1))
  paste0('    {\n      "name": ', json_str(name), ',\n      "description": ',
         json_str(description), ',\n      "before": ', json_vec(before),
         ',\n      "after": ', json_vec(after), ',\n      "values": [\n',
         paste(values, collapse = ",\n"), "\n      ]\n    }")
}

t_calls <- list(
  t_statistic = "t.test(after, before, paired = TRUE)$statistic",
  t_df = "t.test(after, before, paired = TRUE)$parameter",
  p_t = "t.test(after, before, paired = TRUE)$p.value",
  ci_mean_difference_low = "t.test(after, before, paired = TRUE)$conf.int[1]",
  ci_mean_difference_high = "t.test(after, before, paired = TRUE)$conf.int[2]",
  mean_difference = "mean(after - before)",
  sd_before = "sd(before)",
  sd_after = "sd(after)",
  median_before = "median(before)",
  q1_after = "quantile(after, 0.25, type = 7)",
  q3_after = "quantile(after, 0.75, type = 7)",
  cohen_dz = "mean(after - before) / sd(after - before)",
  p_sign = "binom.test(sum(after > before), sum(after != before))$p.value",
  wilcoxon_w_plus = "wilcox.test(after, before, paired = TRUE, exact = FALSE, correct = FALSE)$statistic",
  p_wilcoxon_asymptotic = "wilcox.test(after, before, paired = TRUE, exact = FALSE, correct = FALSE)$p.value"
)
exact_calls <- list(
  p_wilcoxon_exact = "wilcox.test(after, before, paired = TRUE, exact = TRUE)$p.value",
  hodges_lehmann = "wilcox.test(after, before, paired = TRUE, exact = TRUE, conf.int = TRUE)$estimate",
  hl_ci_low = "wilcox.test(after, before, paired = TRUE, exact = TRUE, conf.int = TRUE)$conf.int[1]",
  hl_ci_high = "wilcox.test(after, before, paired = TRUE, exact = TRUE, conf.int = TRUE)$conf.int[2]",
  hl_ci_achieved_level = "{n <- sum(after != before); q <- max(qsignrank(0.025, n), 1); 1 - 2 * psignrank(q - 1, n)}",
  min_attainable_p_wilcoxon = "min(1, 2 * dsignrank(0, sum(after != before)))"
)
coin_calls <- list(
  p_wilcoxon_exact = "coin::pvalue(coin::wilcoxsign_test(after ~ before, zero.method = \"Wilcoxon\", distribution = \"exact\"))"
)

cases <- c(
  case("sleep",
       "Student's sleep data (Cushny & Peebles 1905; R datasets::sleep): extra hours of sleep, drug 1 (before) and drug 2 (after), 10 patients; one zero difference and one tie",
       sleep$extra[1:10], sleep$extra[11:20], c(t_calls, coin_calls)),
  case("n5_same_sign",
       "n = 5, all differences negative and distinct (prednisone-like, reference section 1.1)",
       c(20, 15, 30, 25, 10), c(10, 7.5, 25, 12.5, 7.5), c(t_calls, exact_calls)),
  case("ties_and_zeros",
       "n = 10 with two zero differences and tied absolute differences (2, 2, 2 and 4, 4)",
       c(10, 12, 9, 14, 11, 13, 8, 15, 10, 12), c(10, 14, 11, 13, 14, 13, 12, 19, 15, 10),
       c(t_calls, coin_calls)),
  case("n10_distinct",
       "n = 10 distinct non-zero differences (reference section 1.5 Hodges-Lehmann check)",
       rep(0, 10), c(1.8, -0.4, 2.5, 3.1, 0.9, 1.7, 2.2, -0.3, 1.1, 4.0),
       c(t_calls, exact_calls))
)

writeLines(c("{",
             paste0('  "generated_by": ', json_str(paste(R.version.string, "; coin",
                    as.character(packageVersion("coin")))), ","),
             '  "script": "tests/stats/data/make_r_reference.R",',
             '  "cases": [', paste(cases, collapse = ",\n"), "  ]", "}"),
           "r_reference.json")
