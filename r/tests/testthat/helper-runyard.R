# Test helpers: a project directory with the repo's examples/train.R and its
# own runs home. The tests run real runyard commands and real R runs.

# The repository's examples/ directory: $RUNYARD_REPO, else found walking up.
examples_dir <- function() {
  repo <- Sys.getenv("RUNYARD_REPO")
  if (nzchar(repo)) return(file.path(repo, "examples"))
  d <- normalizePath(getwd())
  repeat {
    if (file.exists(file.path(d, "examples", "train.R")) && file.exists(file.path(d, "r", "DESCRIPTION"))) {
      return(file.path(d, "examples"))
    }
    up <- dirname(d)
    if (identical(up, d)) return("")
    d <- up
  }
}

skip_without_runyard <- function() {
  ok <- tryCatch({ runyard::runyard_command(); TRUE }, error = function(e) FALSE)
  if (!ok) skip("the runyard command is not installed")
  if (!nzchar(examples_dir())) skip("examples/train.R of the runyard repository not found (set RUNYARD_REPO)")
}

# A fresh project (the working directory, with train.R) whose runs home is
# <project>/.guild, for the rest of the calling test.
local_project <- function(env = parent.frame()) {
  skip_without_runyard()
  dir <- tempfile("runyard-project-")
  dir.create(dir)
  dir <- normalizePath(dir)
  file.copy(file.path(examples_dir(), "train.R"), dir)
  withr::local_dir(dir, .local_envir = env)
  withr::local_envvar(GUILD_HOME = file.path(dir, ".guild"), .local_envir = env)
  withr::defer(unlink(dir, recursive = TRUE), envir = env)
  dir
}

# Change a flag's literal in the project's train.R, as a user editing it would.
edit_script <- function(pattern, replacement, file = "train.R") {
  lines <- readLines(file)
  writeLines(sub(pattern, replacement, lines), file)
}

quietly <- function(expr) {
  out <- utils::capture.output(value <- expr)
  invisible(value)
}

# The seed README's code uses dplyr's verbs and pipe.
if (requireNamespace("dplyr", quietly = TRUE)) {
  suppressPackageStartupMessages(library(dplyr, warn.conflicts = FALSE))
}

# Print as the seed's README shows (80 columns, Unicode where the locale has
# it); returns the "x" of "A tibble: 2 x 2" in that output.
local_seed_output <- function(env = parent.frame()) {
  utf8 <- isTRUE(l10n_info()[["UTF-8"]])
  testthat::local_reproducible_output(width = 80, unicode = utf8, .env = env)
  if (utf8) "\u00d7" else "x"
}
