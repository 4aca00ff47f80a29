# The seed README's "Flags" and "Retreiving Run Flags".

test_that("guild_run(\"train.R\", \"--help-op\") lists the script's flags", {
  project <- local_project()
  out <- capture.output(ids <- guild_run("train.R", "--help-op"))
  expect_identical(ids, character())
  expect_equal(out[1], "Usage: runyard run [OPTIONS] train.R [FLAG]...")
  expect_true("Flags:" %in% out)
  expect_true(any(grepl("^  family +\\(default is gaussian", out)))
  expect_true(any(grepl("^  span +\\(default is 0.75", out)))
  expect_equal(nrow(ls_runs()), 0L)
})

test_that("flags = list(...) runs once with the values written into the run's copy of the script", {
  project <- local_project()
  out <- capture.output(id <- guild_run("train.R", flags = list(
    span = 0.5,
    family = "symmetric"
  )))
  expect_true(all(c("> span <- 0.5", "> family <- \"symmetric\"") %in% out))
  run <- ls_runs(id)
  expect_equal(run$flags$span, 0.5)
  expect_equal(run$flags$family, "symmetric")
  src <- readLines(file.path(run$dir, "train.R"))
  expect_true("span <- 0.5" %in% src)
  expect_equal(length(src), length(readLines("train.R")))  # the project's script is untouched
  expect_true("span <- .75" %in% readLines("train.R"))
})

test_that("a for loop of guild_run() calls, a grid from a list, a batch from a data frame", {
  project <- local_project()
  for (span in c(0.5, 1.5))
    quietly(guild_run("train.R", c(span = span)))
  expect_equal(ls_runs()$flags$span, c(1.5, 0.5))

  ids <- quietly(guild_run("train.R",
                           flags = list(span = c(0.5, 1),
                                        family = c("gaussian", "symmetric"))))
  expect_length(ids, 4)
  got <- ls_runs(ids)$flags
  expect_setequal(paste(got$span, got$family),
                  c("0.5 gaussian", "1 gaussian", "0.5 symmetric", "1 symmetric"))

  flags_df <- expand.grid(span = c(0.5, 1.5),
                          family = c("gaussian", "symmetric"))
  expect_equal(capture.output(flags_df), c(
    "  span    family",
    "1  0.5  gaussian",
    "2  1.5  gaussian",
    "3  0.5 symmetric",
    "4  1.5 symmetric"
  ))
  ids <- quietly(guild_run("train.R", flags = flags_df))
  expect_length(ids, 4)
  runs <- ls_runs(ids)
  expect_setequal(paste(runs$flags$span, runs$flags$family),
                  paste(flags_df$span, flags_df$family))
  expect_true(all(runs$status == "completed"))
  expect_equal(nrow(ls_runs()), 10L)
})

test_that("retrieving run flags: ls_runs()$flags is a data-frame column", {
  project <- local_project()
  x <- local_seed_output()
  quietly(guild_run("train.R"))
  quietly(guild_run("train.R", flags = list(span = 1.5)))
  runs <- ls_runs()
  sel <- runs %>% select(id, flags)
  expect_s3_class(sel$flags, "tbl_df")
  expect_equal(names(sel$flags), c("family", "span"))
  expect_type(sel$flags$span, "double")
  expect_equal(sel$flags$span, c(1.5, 0.75))
  out <- capture.output(print(sel, width = 80))
  expect_equal(out[1], paste("# A tibble: 2", x, "2"))
  expect_match(out[2], "^  id +flags\\$family \\$span$")
  expect_match(out[3], "^  <chr> +<chr> +<dbl>$")
  expect_match(out[4], paste0("^1 ", runs$id[1], " gaussian +1\\.5 *$"))
})

test_that("a flag value out of range is an R error with runyard's message, and no run", {
  project <- local_project()
  expect_error(guild_run("train.R", flags = list(span = 99)),
               "^runyard: invalid value for flag 'span': 99 is greater than the maximum 3$",
               class = "runyard_error")
  expect_equal(nrow(ls_runs()), 0L)
})

test_that("run options in ...: label, tag, optimizer and max_trials", {
  project <- local_project()
  id <- quietly(guild_run("train.R", label = "baseline", tag = c("a", "b"), echo = FALSE))
  run <- ls_runs(id)
  expect_equal(run$label, "baseline")
  expect_equal(run$tags[[1]], c("a", "b"))
  err <- capture.output(type = "message", out <- capture.output(
    ids <- guild_run("train.R", flags = list(span = c(0.4, 0.8, 1.2, 1.6)),
                     optimizer = "random", max_trials = 2, echo = FALSE)))
  expect_length(ids, 2)
  expect_length(out, 0)
  expect_length(err, 0)
  # echo = c(stdout, stderr), as in the seed: the run's output, without the error stream
  err <- capture.output(type = "message", out <- capture.output(
    guild_run("train.R", echo = c(TRUE, FALSE), flags = list(span = c(0.4, 0.8)))))
  expect_true("> span <- 0.4" %in% out)
  expect_length(err, 0)
  err <- capture.output(type = "message", quietly(guild_run("train.R", flags = list(span = c(0.4, 0.8)))))
  expect_true(any(grepl("Running trial", err)))  # by default runyard's progress lines show
  expect_true(all(ls_runs(ids)$flags$span %in% c(0.4, 0.8, 1.2, 1.6)))
})
