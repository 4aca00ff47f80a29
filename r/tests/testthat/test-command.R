# Finding runyard, its environment, its errors, and turning R arguments into
# command-line arguments.

test_that("runyard is found from the option, then RUNYARD_COMMAND, then PATH", {
  skip_without_runyard()
  on_path <- unname(Sys.which("runyard"))
  fake <- tempfile("runyard-fake-")
  writeLines(c("#!/bin/sh", "echo fake runyard \"$@\""), fake)
  Sys.chmod(fake, "755")
  withr::local_options(runyard.command = NULL)
  withr::local_envvar(RUNYARD_COMMAND = fake)
  expect_equal(runyard_command(), fake)
  expect_equal(runyard:::runyard(c("a", "b c")), "fake runyard a b c\n")
  withr::local_options(runyard.command = c("/bin/sh", fake))
  expect_equal(runyard_command(), c("/bin/sh", fake))
  withr::local_options(runyard.command = NULL)
  withr::local_envvar(RUNYARD_COMMAND = "")
  if (nzchar(on_path)) expect_equal(runyard_command(), on_path)
})

test_that("without runyard, one clear error names the pip command", {
  withr::local_options(runyard.command = NULL)
  withr::local_envvar(RUNYARD_COMMAND = "", PATH = tempdir())
  expect_error(runyard_command(), "pip install runyard", class = "runyard_error")
  expect_error(ls_runs(), "the runyard command was not found: install it with `python3 -m pip install runyard`",
               fixed = TRUE)
  withr::local_envvar(RUNYARD_COMMAND = "/no/such/runyard")
  expect_error(ls_runs(), "RUNYARD_COMMAND is '/no/such/runyard', which was not found", fixed = TRUE)
})

test_that("runyard does not inherit the library path R set for itself", {
  skip_on_os("windows")
  skip_without_runyard()
  rscript <- file.path(R.home("bin"), "Rscript")
  show <- 'cat(runyard:::runyard_env()["LD_LIBRARY_PATH"], Sys.getenv("LD_LIBRARY_PATH"), sep = "|")'
  # R's start-up script put its own directories in front of LD_LIBRARY_PATH ...
  out <- system2("env", c("-u", "LD_LIBRARY_PATH", rscript, "-e", shQuote(show)), stdout = TRUE)
  parts <- strsplit(out, "|", fixed = TRUE)[[1]]
  expect_equal(parts[1], "NA")           # ... runyard gets none of them
  expect_match(parts[2], R.home("lib"), fixed = TRUE)
  # ... and a library path the user had set is kept
  out <- system2("env", c("LD_LIBRARY_PATH=/opt/mine", rscript, "-e", shQuote(show)), stdout = TRUE)
  parts <- strsplit(out, "|", fixed = TRUE)[[1]]
  expect_equal(parts[1], "/opt/mine")
  expect_match(parts[2], ":/opt/mine$")

  # The failure it caused: a Python started with R's LD_LIBRARY_PATH loaded
  # another libpython and could not import ssl (the view needs it).
  py <- tempfile("runyard-py-")
  writeLines(c("#!/bin/sh", "exec python3 -c 'import ssl; print(\"ssl ok\")'"), py)
  Sys.chmod(py, "755")
  withr::local_options(runyard.command = py)
  expect_equal(runyard:::runyard(character()), "ssl ok\n")
})

test_that("an error from runyard is an R error carrying its one-line message", {
  project <- local_project()
  err <- tryCatch(ls_runs("zzzz"), error = function(e) e)
  expect_s3_class(err, "runyard_error")
  expect_match(conditionMessage(err), "^runyard: [^\n]+$")
  expect_equal(err$status, 2L)
  expect_error(guild_run("missing.R"), "^runyard: script not found: missing.R$")
  writeLines(c("x <- 1", "stop(\"boom here\")"), "bad.R")
  expect_error(quietly(guild_run("bad.R")), "^runyard: run [0-9a-f]{8} failed: Error: boom here$")
  expect_equal(ls_runs(1)$status, "error")
})

test_that("R arguments become runyard's command-line arguments as in the seed", {
  args <- runyard:::cli_args
  expect_equal(args(foo = TRUE), "--foo")
  expect_equal(args(foo = FALSE), character())
  expect_equal(args(foo = NA), character())
  expect_equal(args(foo = NULL), character())
  expect_equal(args(foo = "a"), c("--foo", "a"))
  expect_equal(args(foo = c("a", "b")), c("--foo", "a", "--foo", "b"))
  expect_equal(args(max_trials = 5), c("--max-trials", "5"))
  expect_equal(args(.Fm = TRUE, .Fs = "last hour"), c("-Fm", "-Fs", "last hour"))
  expect_equal(args(I("--marked --started 'last hour'")), c("--marked", "--started", "last hour"))
  expect_equal(args("--marked", c("--started" = "last hour")), c("--marked", "--started", "last hour"))
  expect_equal(runyard:::flag_args(list(a = 0.1, b = 1e-5, c = "x y", d = TRUE, e = 10L, f = c(1, 2)), tempdir()),
               c("a=0.1", "b=1e-05", "c=\"x y\"", "d=true", "e=10", "f=[1,2]"))
  expect_equal(runyard:::flag_args(list(x = 0.1 + 0.2), tempdir()), "x=0.30000000000000004")
})
