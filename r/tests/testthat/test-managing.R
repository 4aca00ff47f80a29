# The seed README's "Managing runs" and "Using guild from the terminal" (the
# run selections and filters of ls_runs()).

test_that("the seed's pipeline: ls_scalars() |> filter() |> slice_max() |> runs_tag() |> runs_export()", {
  project <- local_project()
  x <- local_seed_output()
  a <- quietly(guild_run("train.R", flags = list(span = 0.5)))
  b <- quietly(guild_run("train.R", flags = list(span = 2)))
  best <- ls_scalars() %>%
    filter(tag == "rmse") %>%
    slice_max(value)
  expect_equal(best$run, b)
  out <- capture.output(print(best, width = 80))
  expect_equal(out[1], paste("# A tibble: 1", x, "5"))
  res <- withVisible(best %>%
    runs_tag("best") %>%
    runs_export("./best-runs"))
  expect_false(res$visible)
  expect_identical(res$value, best)
  expect_equal(ls_runs()$tags, list("best", character()))
  expect_true(dir.exists(file.path("best-runs", b)))
  expect_false(dir.exists(file.path("best-runs", a)))
})

test_that("tags, marks, labels and comments; each returns its runs invisibly", {
  project <- local_project()
  a <- quietly(guild_run("train.R", echo = FALSE))
  b <- quietly(guild_run("train.R", flags = list(span = 1), echo = FALSE))
  res <- withVisible(runs_tag(a, c("x", "y")))
  expect_false(res$visible)
  expect_identical(res$value, a)
  runs_tag(a, remove = "x") |> runs_mark() |> runs_label("baseline") |> runs_comment(c("first", "line two"))
  run <- ls_runs(a)
  expect_equal(run$tags[[1]], "y")
  expect_true(run$marked)
  expect_equal(run$label, "baseline")
  expect_equal(run$comments[[1]]$body, "first\nline two")
  expect_s3_class(run$comments[[1]]$time, "POSIXct")
  expect_equal(names(run$comments[[1]]), c("body", "host", "time", "user"))
  runs_comment(a, delete = 1)
  expect_equal(nrow(ls_runs(a)$comments[[1]]), 0L)
  runs_tag(a, clear = TRUE)
  expect_identical(ls_runs(a)$tags[[1]], character())
  runs_label(a, clear = TRUE)
  expect_equal(ls_runs(a)$label, "")
  expect_equal(ls_runs(marked = TRUE)$id, a)
  runs_mark(a, clear = TRUE)
  expect_equal(nrow(ls_runs(marked = TRUE)), 0L)
  expect_error(runs_tag(a), "needs tags", class = "runyard_error")
  expect_equal(ls_runs(b)$tags[[1]], character())  # only the selected run changed
})

test_that("the five equivalent ways of passing filters, and resolve_run_ids()", {
  project <- local_project()
  a <- quietly(guild_run("train.R", echo = FALSE))
  b <- quietly(guild_run("train.R", flags = list(span = 1), echo = FALSE))
  runs_mark(b)
  forms <- list(
    ls_runs(I("--marked --started 'last hour'")),
    ls_runs("--marked", "--started" = "last hour"),
    ls_runs("--marked", "--started", "last hour"),
    ls_runs(c("--marked", "--started", "last hour")),
    ls_runs("--marked", c("--started", "last hour")),
    ls_runs(marked = TRUE, started = "last hour")
  )
  for (f in forms) expect_equal(f$id, b)
  expect_equal(resolve_run_ids(), c(b, a))
  expect_equal(resolve_run_ids(1), b)
  expect_equal(resolve_run_ids("2"), a)
  expect_equal(resolve_run_ids(substr(a, 1, 8)), a)
  expect_equal(resolve_run_ids(ls_scalars()), c(b, a))
  expect_equal(resolve_run_ids(data.frame(run = c(a, a))), a)
  expect_equal(resolve_run_ids(filter = "flag:span > 0.9"), b)
  expect_equal(resolve_run_ids(marked = TRUE), b)
  expect_equal(ls_runs(list(id = a))$id, a)
  expect_error(ls_runs("no-such-run"), "^runyard: ", class = "runyard_error")
})

test_that("delete, restore, purge, export and import", {
  project <- local_project()
  a <- quietly(guild_run("train.R", echo = FALSE))
  b <- quietly(guild_run("train.R", flags = list(span = 1), echo = FALSE))
  # An empty selection (a data frame with no rows) changes nothing: never "all runs".
  none <- ls_runs()[0, ]
  expect_identical(runs_delete(none), none)
  runs_tag(none, "x")
  expect_equal(nrow(ls_runs(tag = "x")), 0L)
  expect_equal(nrow(ls_runs()), 2L)

  expect_identical(runs_delete(a), a)
  expect_equal(ls_runs()$id, b)
  expect_equal(ls_runs(deleted = TRUE)$id, a)
  runs_restore(a)
  expect_setequal(ls_runs()$id, c(a, b))
  runs_delete(b)
  runs_purge(b)
  expect_equal(nrow(ls_runs(deleted = TRUE)), 0L)
  expect_false(dir.exists(file.path(project, ".guild", "runs", b)))

  runs_export(a, "archive.zip")
  expect_true(file.exists("archive.zip"))
  runs_export(a, "exported", move = TRUE)
  expect_equal(nrow(ls_runs()), 0L)
  runs_import("exported")
  expect_equal(ls_runs()$id, a)
  runs_delete(a, permanent = TRUE)
  runs_import(a, "archive.zip")
  expect_equal(ls_runs()$status, "completed")
})

test_that("resolve_run_ids(\"--help\") prints the selection options", {
  project <- local_project()
  out <- capture.output(ids <- resolve_run_ids("--help"))
  expect_identical(ids, character())
  expect_true(any(grepl("--marked", out, fixed = TRUE)))
  expect_true(any(grepl("--started", out, fixed = TRUE)))
})
