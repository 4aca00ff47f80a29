# The seed README's "Hello World": launch a run, view runs, run directories,
# reports, comparing runs.

test_that("guild_run() echoes the run as source(echo = TRUE) does and returns the id invisibly", {
  project <- local_project()
  out <- capture.output(res <- withVisible(guild_run("train.R")))
  expect_false(res$visible)
  id <- res$value
  expect_match(id, "^[0-9a-f]{32}$")
  # The seed shows each expression after a "> " prompt, then its output.
  expect_true(all(c(
    "> span <- .75",
    "> family <- \"gaussian\"",
    "> model <- loess(dist ~ speed, data = cars, span = span, family = family)",
    "> cat(\"mse:\", mse, \"\\n\")",
    "> cat(\"rmse:\", rmse, \"\\n\")"
  ) %in% out))
  expect_true(any(grepl("^mse: 207\\.27432037741", out)))
  expect_true(any(grepl("^rmse: 14\\.39702470573", out)))
})

test_that("ls_runs() gives the seed's columns, and the run directory holds the run", {
  project <- local_project()
  id <- quietly(guild_run("train.R"))
  run <- ls_runs()
  out <- capture.output(tibble::glimpse(run))
  expect_equal(out[1:2], c("Rows: 1", "Columns: 15"))
  expect_equal(names(run), c("id", "label", "tags", "marked", "flags", "scalars", "operation", "started",
                             "stopped", "comments", "status", "exit_status", "deps", "project_dir", "dir"))
  expect_true(any(grepl("^\\$ scalars +<list> \\[<tbl_df\\[2 x 14\\]>\\]", out)))
  expect_true(any(grepl("^\\$ flags +<tibble\\[,2\\]> <tbl_df\\[1 x 2\\]>", out)))
  expect_true(any(grepl("^\\$ started +<dttm> ", out)))
  expect_true(any(grepl("^\\$ comments +<list> \\[<tbl_df\\[0 x 4\\]>\\]", out)))
  expect_equal(run$id, id)
  expect_equal(run$label, "family=gaussian span=0.75")
  expect_equal(run$operation, "train.R")
  expect_equal(run$status, "completed")
  expect_identical(run$exit_status, 0L)
  expect_false(run$marked)
  expect_identical(run$tags[[1]], character())
  expect_s3_class(run$started, "POSIXct")
  expect_true(run$stopped >= run$started)
  expect_true(abs(as.numeric(Sys.time() - run$started, units = "secs")) < 600)
  expect_equal(run$project_dir, project)
  expect_equal(run$dir, file.path(project, ".guild", "runs", id))

  # Run directories: the seed's fs::dir_tree(run$dir[1], all = TRUE)
  files <- list.files(run$dir[1], recursive = TRUE, all.files = TRUE)
  expect_true(all(c(".guild/attrs/flags", ".guild/attrs/random_seed", ".guild/attrs/started",
                    ".guild/attrs/exit_status", ".guild/output", ".guild/manifest", ".guild/opref",
                    "plots/Rplot001.png", "train.R") %in% files))
  expect_true(any(grepl("^\\.guild/events\\.out\\.tfevents\\.", files)))

  # A report of the run
  report <- view_run_report(run$id)
  expect_true(file.exists(report))
  html <- paste(readLines(report, warn = FALSE), collapse = "\n")
  expect_match(html, id, fixed = TRUE)
  expect_match(html, "rmse", fixed = TRUE)
})

test_that("comparing runs: a second run after editing the script, then view_runs_diff()", {
  project <- local_project()
  first <- quietly(guild_run("train.R"))
  edit_script("^span <- .75$", "span <- 1.5")
  edit_script("^family <- \"gaussian\"$", "family <- \"symmetric\"")
  second <- quietly(guild_run("train.R"))
  expect_equal(ls_runs(1:2)$id, c(second, first))
  diff <- ls_runs(1:2) %>% view_runs_diff()
  expect_true(file.exists(diff))
  html <- paste(readLines(diff, warn = FALSE), collapse = "\n")
  expect_match(html, "symmetric", fixed = TRUE)
  expect_match(html, "gaussian", fixed = TRUE)
})
