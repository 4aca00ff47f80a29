# guild_view(), from Rscript (whose LD_LIBRARY_PATH once broke the view).

test_that("guild_view() starts the view in the background and returns its URL", {
  project <- local_project()
  id <- quietly(guild_run("train.R", echo = FALSE))
  expect_message(res <- withVisible(guild_view()), "^runyard view at http://127\\.0\\.0\\.1:[0-9]+/")
  url <- res$value
  expect_false(res$visible)
  expect_match(url, "^http://127\\.0\\.0\\.1:[0-9]+/$")
  page <- paste(readLines(url(url), warn = FALSE), collapse = "\n")
  expect_match(page, "<html", fixed = TRUE)
  # Calling it again replaces the view; stop = TRUE stops it.
  url2 <- suppressMessages(guild_view())
  if (!identical(url2, url)) expect_error(suppressWarnings(readLines(url(url), warn = FALSE)))
  expect_equal(guild_view(stop = TRUE), url2)
  expect_error(suppressWarnings(readLines(url(url2), warn = FALSE)))
  expect_equal(guild_view(stop = TRUE), "")
})

test_that("open = TRUE (the default when interactive) opens the view and the reports in the browser", {
  project <- local_project()
  quietly(guild_run("train.R", echo = FALSE))
  quietly(guild_run("train.R", flags = list(span = 1.5), echo = FALSE))
  opened <- character()
  withr::local_options(browser = function(url) opened <<- c(opened, url))
  url <- suppressMessages(guild_view(open = TRUE))
  report <- view_run_report(1, open = TRUE)
  diff <- view_runs_diff(open = TRUE)
  guild_view(stop = TRUE)
  expect_equal(opened, c(url, paste0("file://", normalizePath(report)), paste0("file://", normalizePath(diff))))
  expect_match(paste(readLines(diff, warn = FALSE), collapse = "\n"), "1.5", fixed = TRUE)
})
