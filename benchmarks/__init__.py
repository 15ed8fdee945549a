"""The lab: benchmark specs, the runner, the results schema and files, table generation, the
studies, the golden-trace harness and the project's records. Not installed with the package
(``iou_aware/`` is the product); scripts here put the repository root on ``sys.path`` and
import ``benchmarks.*`` and ``iou_aware``; nothing in ``iou_aware`` imports from here."""
