# The RStudio addins' functions (RStudio is not running here: they degrade to
# plain calls).

test_that("addins.dcf binds functions of the package", {
  dcf <- read.dcf(system.file("rstudio", "addins.dcf", package = "runyard"))
  expect_equal(dcf[, "Name"], c("Run script with runyard", "Open runyard view"))
  for (b in dcf[, "Binding"]) expect_true(is.function(getExportedValue("runyard", b)))
})

test_that("\"Run script with runyard\" runs the script; without an R script it says so", {
  project <- local_project()
  out <- capture.output(id <- addin_run_script(file.path(project, "train.R")))
  expect_match(id, "^[0-9a-f]{32}$")
  expect_true("> span <- .75" %in% out)
  expect_equal(ls_runs()$operation, "train.R")
  expect_message(expect_null(addin_run_script(NULL)), "open an R script")
  writeLines("notes", "notes.txt")
  expect_message(addin_run_script("notes.txt"), "open an R script in the editor to run it \\(notes.txt\\)")
  expect_equal(nrow(ls_runs()), 1L)
})

test_that("\"Open runyard view\" opens the view", {
  project <- local_project()
  url <- suppressMessages(addin_view())
  expect_match(url, "^http://127\\.0\\.0\\.1:[0-9]+/$")
  expect_equal(guild_view(stop = TRUE), url)
})
