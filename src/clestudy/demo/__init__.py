"""The demo study: synthetic data for both built-in protocols, written through the store.

``clestudy demo`` calls :func:`run_demo`: it creates ``DIR/clestudy.db``, enrols five adults in the
open-label lenalidomide study and five children in the pediatric chart review, writes every form
through the audited store service, and renders ``DIR/report.html``. The data are synthetic,
generated with a fixed seed, and labelled as such in the database's audit reasons and the report.
"""

from __future__ import annotations

from clestudy.demo._run import DEMO_SEED, DemoResult, run_demo

__all__ = ["DEMO_SEED", "DemoResult", "run_demo"]
