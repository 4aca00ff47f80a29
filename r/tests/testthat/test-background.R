# The seed README's "Background Training".

wait_until_done <- function(id, timeout = 60) {
  end <- Sys.time() + timeout
  repeat {
    st <- ls_runs(id)$status
    if (!st %in% c("running", "pending", "staged") || Sys.time() > end) return(st)
    Sys.sleep(0.2)
  }
}

test_that("guild_run(wait = FALSE) returns at once; the run goes on in the background", {
  project <- local_project()
  writeLines(c("Sys.sleep(3)", readLines("train.R")), "slow.R")
  t0 <- Sys.time()
  out <- capture.output(id <- guild_run("slow.R", wait = FALSE))
  expect_lt(as.numeric(Sys.time() - t0, units = "secs"), 3)
  expect_match(id, "^[0-9a-f]{32}$")
  expect_equal(ls_runs(id)$status, "running")
  expect_true(is.na(ls_runs(id)$stopped))
  expect_equal(wait_until_done(id), "completed")
  expect_match(paste(readLines(file.path(ls_runs(id)$dir, ".guild", "output")), collapse = "\n"), "rmse: 14.39")
})

test_that("Rscript -e 'runyard::guild_run(\"train.R\")' from a terminal", {
  project <- local_project()
  rscript <- file.path(R.home("bin"), "Rscript")
  out <- system2(rscript, c("-e", shQuote('runyard::guild_run("train.R")')), stdout = TRUE, stderr = TRUE)
  expect_null(attr(out, "status"))
  expect_true("> span <- .75" %in% out)
  run <- ls_runs()
  expect_equal(nrow(run), 1L)
  expect_equal(run$status, "completed")
})

test_that("when R stops waiting (an interrupt, a time limit), the run is stopped too", {
  project <- local_project()
  writeLines(c("cat('start\\n')", "Sys.sleep(60)", "cat('end\\n')"), "slow.R")
  err <- tryCatch({
    setTimeLimit(elapsed = 3, transient = TRUE)
    quietly(guild_run("slow.R"))
  }, error = function(e) e)
  setTimeLimit()
  expect_match(conditionMessage(err), "time limit")
  run <- ls_runs(1)
  expect_equal(run$status, "terminated")
  expect_false(any(grepl("^end", readLines(file.path(run$dir, ".guild", "output")))))
})
