# Inside a run: is_run_active() and write_run_attr().

test_that("a script under a run sees is_run_active() and writes run attributes", {
  project <- local_project()
  expect_false(is_run_active())
  expect_identical(write_run_attr("ignored", "outside a run"), "outside a run")
  writeLines(c(
    "cat('active:', runyard::is_run_active(), '\\n')",
    "runyard::write_run_attr('data_version', '2026-01')",
    "runyard::write_run_attr('sizes', list(train = 80L, test = 20L))",
    "runyard::write_run_attr('removed', 1)",
    "runyard::write_run_attr('removed')",
    "res <- tryCatch(runyard::write_run_attr('exit_status', 5), error = conditionMessage)",
    "cat('refused:', res, '\\n')"
  ), "attrs.R")
  out <- capture.output(id <- guild_run("attrs.R"))
  expect_true("active: TRUE " %in% out)
  expect_true("refused: runyard: cannot write attribute 'exit_status': runyard writes it " %in% out)
  attr <- function(name) runyard:::runyard(c("select", id, "--attr", name))
  expect_equal(attr("data_version"), "2026-01\n")
  expect_equal(attr("sizes"), "train: 80\ntest: 20\n")
  expect_equal(attr("removed"), "\n")
  expect_equal(ls_runs(id)$exit_status, 0L)
})
