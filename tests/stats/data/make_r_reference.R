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

# ---- second file: multiplicity, responder comparisons, repeated visits (r_reference_more.json) --
json_input <- function(name, v) {
  if (is.character(v)) paste0('"', name, '": [', paste(json_str(v), collapse = ", "), "]")
  else paste0('"', name, '": ', json_vec(v))
}
entry <- function(name, description, inputs, calls) {
  env <- list2env(inputs)
  values <- vapply(names(calls), function(key) {
    value <- as.numeric(eval(parse(text = calls[[key]]), envir = env))
    sprintf('      {"key": %s, "r_call": %s, "value": %s}',
            json_str(key), json_str(calls[[key]]), fmt(value))
  }, character(1))
  ins <- vapply(names(inputs), function(n) json_input(n, inputs[[n]]), character(1))
  paste0('    {\n      "name": ', json_str(name), ',\n      "description": ',
         json_str(description), ',\n      "inputs": {', paste(ins, collapse = ", "),
         '},\n      "values": [\n', paste(values, collapse = ",\n"), "\n      ]\n    }")
}
indexed <- function(prefix, template, k) {
  calls <- lapply(seq_len(k), function(i) sprintf(template, i))
  names(calls) <- paste0(prefix, "_", seq_len(k))
  calls
}

p6 <- c(0.01, 0.04, 0.03, 0.20, 0.004, 0.049)
mixed_subject <- rep(1:6, each = 3)
mixed_visit <- rep(0:2, times = 6)
mixed_value <- c(10, 6, 3, 8, 7, 2, 12, 9, 5, 9, 5, 4, 14, 10, 7, 7, 6, 5)
keep <- !(mixed_subject == 2 & mixed_visit == 2) & !(mixed_subject == 5 & mixed_visit == 1)
lme_call <- "nlme::lme(value ~ factor(visit), random = ~ 1 | subject, data = data.frame(subject, visit, value), method = \"REML\")"

more <- c(
  entry("p_adjust", "six raw p-values", list(p = p6),
        c(indexed("p_holm", "p.adjust(p, \"holm\")[%d]", 6),
          indexed("p_bh", "p.adjust(p, \"BH\")[%d]", 6))),
  entry("mann_whitney_no_ties", "responders x, non-responders y, no ties",
        list(x = c(7.4, 9.1, 12.0, 26.4, 5.0), y = c(3.1, 4.2, 5.7, 2.9, 6.3, 8.0)),
        list(statistic = "wilcox.test(x, y, exact = TRUE)$statistic",
             p_value = "wilcox.test(x, y, exact = TRUE)$p.value")),
  entry("mann_whitney_ties", "responders x, non-responders y, tied values",
        list(x = c(3, 5, 5, 7, 9), y = c(1, 3, 3, 5, 6, 2)),
        list(statistic = "wilcox.test(x, y, exact = FALSE)$statistic",
             p_value = "coin::pvalue(coin::wilcox_test(c(x, y) ~ factor(rep(c(\"r\", \"n\"), c(length(x), length(y)))), distribution = \"exact\"))")),
  entry("fisher_2x2", "responders (row 1) x non-responders (row 2) by level no/yes",
        list(counts = c(1, 3, 3, 1)),
        list(p_value = "fisher.test(matrix(counts, nrow = 2))$p.value")),
  entry("fisher_2x3", "responders (row 1) x non-responders (row 2) by three levels",
        list(counts = c(3, 1, 0, 2, 1, 4)),
        list(p_value = "fisher.test(matrix(counts, nrow = 2))$p.value")),
  entry("spearman_n7", "n = 7, no ties", list(x = c(-20.1, -8.3, -3.0, -12.5, -1.1, -15.2, -6.6),
        y = c(-9, -4, -5, -7, 0, -3, -6)),
        list(rho = "cor.test(x, y, method = \"spearman\", exact = TRUE)$estimate",
             p_value = "cor.test(x, y, method = \"spearman\", exact = TRUE)$p.value")),
  entry("spearman_n9", "n = 9, no ties", list(x = c(1.2, 3.4, 2.2, 5.1, 4.4, 0.3, 6.6, 2.9, 3.9),
        y = c(2, 5, 1, 9, 4, 3, 8, 6, 7)),
        list(rho = "cor.test(x, y, method = \"spearman\", exact = TRUE)$estimate",
             p_value = "cor.test(x, y, method = \"spearman\", exact = TRUE)$p.value")),
  entry("friedman", "6 subjects x 3 visits (rows: subjects), one tie within a subject",
        list(values = c(10, 6, 3, 8, 7, 7, 12, 9, 5, 9, 5, 4, 14, 10, 7, 7, 6, 5)),
        list(statistic = "friedman.test(matrix(values, ncol = 3, byrow = TRUE))$statistic",
             p_value = "friedman.test(matrix(values, ncol = 3, byrow = TRUE))$p.value")),
  entry("mixed_model", "6 subjects x visits 0, 1, 2 with two values missing (unbalanced)",
        list(subject = mixed_subject[keep], visit = mixed_visit[keep], value = mixed_value[keep]),
        list(estimate_1 = paste0("nlme::fixef(", lme_call, ")[2]"),
             estimate_2 = paste0("nlme::fixef(", lme_call, ")[3]"),
             se_1 = paste0("summary(", lme_call, ")$tTable[2, \"Std.Error\"]"),
             se_2 = paste0("summary(", lme_call, ")$tTable[3, \"Std.Error\"]"),
             subject_variance = paste0("as.numeric(nlme::VarCorr(", lme_call, ")[1, \"Variance\"])"),
             residual_variance = paste0("(", lme_call, ")$sigma^2")))
)
writeLines(c("{",
             paste0('  "generated_by": ', json_str(paste(R.version.string, "; coin",
                    as.character(packageVersion("coin")), "; nlme",
                    as.character(packageVersion("nlme")))), ","),
             '  "script": "tests/stats/data/make_r_reference.R",',
             '  "cases": [', paste(more, collapse = ",\n"), "  ]", "}"),
           "r_reference_more.json")
