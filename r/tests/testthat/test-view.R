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
