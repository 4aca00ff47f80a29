# Running scripts: guild_run().

#' Run a script in a new run directory
#'
#' Runs an R (or Python) script as `runyard run` does: in an isolated run
#' directory, with its flags written into the run's copy of the script, its
#' output, plots, scalars and source code recorded. Use it in place of
#' `source()`.
#'
#' @param opspec The script to run, e.g. `"train.R"`.
#' @param flags Flag values:
#'   * a named list (or named vector) of single values: one run,
#'     `list(span = 1.5, family = "symmetric")`;
#'   * a named list with several values for a flag: one run per combination
#'     (a grid), `list(span = c(0.5, 0.75), family = c("gaussian", "symmetric"))`;
#'   * a data frame: one run per row, `expand.grid(span = c(0.5, 0.75))`;
#'   * strings in runyard's command-line syntax, passed as they are:
#'     `"span=[0.5,0.75]"`, `"--help-op"`.
#' @param ... Options of `runyard run`, named as in R: `label =`, `tag =`
#'   (repeatable: a vector), `comment =`, `optimizer =` (`"random"`, `"tpe"`),
#'   `max_trials =`, `minimize =`, `maximize =`, `random_seed =`, `workers =`,
#'   `seeds =` (`seeds = 5`: each setting runs 5 times, once per seed, the
#'   seeds going to the script's `seed` flag; `seed_flag =` names another),
#'   `force_flags = TRUE`, `stage = TRUE`, `background = TRUE`, `needed = TRUE`,
#'   `fail_fast = TRUE`, `help_op = TRUE`; or more command-line strings.
#' @param echo `TRUE` shows the run's output live at the console (the same
#'   output as `source("train.R", echo = TRUE)`) and runyard's progress
#'   lines; `FALSE` hides them (errors still become R errors). As in the seed,
#'   a second value is for the error stream: `c(TRUE, FALSE)` shows the run's
#'   output but not the error stream (the run's and runyard's).
#' @param wait `FALSE` starts the run in the background and returns at once
#'   (follow it with [guild_view()]).
#' @return The ids of the new runs, invisibly (none for `--help-op`, or for a
#'   batch started with `wait = FALSE`). A run that fails is an R error
#'   carrying runyard's message; the run is recorded all the same.
#' @examples
#' \dontrun{
#' guild_run("train.R")
#' guild_run("train.R", flags = list(span = 1.5))
#' guild_run("train.R", flags = list(span = c(0.5, 0.75)), echo = FALSE)
#' guild_run("train.R", flags = expand.grid(span = c(0.5, 1), family = c("gaussian", "symmetric")))
#' guild_run("train.R", flags = list(span = c(0.5, 0.75)), seeds = 5)
#' guild_run("train.R", "--help-op")
#' id <- guild_run("train.R", wait = FALSE)
#' }
#' @export
guild_run <- function(opspec = "train.R", flags = NULL, ..., echo = TRUE, wait = TRUE) {
  tmp <- tempfile("runyard-")
  dir.create(tmp)
  on.exit(unlink(tmp, recursive = TRUE), add = TRUE)
  ids_file <- file.path(tmp, "ids.json")
  args <- c("api", "run", opspec, flag_args(flags, tmp), cli_args(...),
            if (!isTRUE(echo[1L])) "--quiet", if (!isTRUE(wait)) "--background",
            "--ids-file", ids_file)
  status <- stream(args, own_tree = isTRUE(wait), show_err = length(echo) < 2L || isTRUE(echo[2L]))
  ids <- if (file.exists(ids_file)) as.character(unlist(jsonlite::read_json(ids_file))) else character()
  if (status$code != 0L) {
    stop(runyard_condition(run_error_line(status$stderr, status$code, ids), status$code))
  }
  invisible(ids)
}

# flags -> command-line arguments: NAME=VALUE (NAME=[a,b] for several
# values), or @file.json for a data frame (one run per row).
flag_args <- function(flags, tmp) {
  if (is.null(flags) || !length(flags)) return(character())
  if (inherits(flags, "AsIs") && is.character(flags)) return(shell_words(paste(flags, collapse = " ")))
  if (is.data.frame(flags)) {
    rows <- lapply(seq_len(nrow(flags)), function(i) {
      row <- lapply(flags[i, , drop = FALSE], function(col) {
        v <- col[[1L]]
        if (is.factor(v)) as.character(v) else v
      })
      row <- row[!vapply(row, function(v) length(v) == 1L && is.na(v), TRUE)]  # NA: the flag's default
      if (length(row)) row else stats::setNames(list(), character())
    })
    path <- file.path(tmp, "trials.json")
    jsonlite::write_json(rows, path, auto_unbox = TRUE, digits = NA, na = "null")
    return(paste0("@", path))
  }
  nms <- names(flags)
  if (is.null(nms) || !all(nzchar(nms))) {
    if (!is.null(nms) && any(nzchar(nms))) {
      stop(runyard_condition("runyard: `flags` must be named (list(span = 1.5)) or command-line strings, not both"))
    }
    return(as.character(unlist(flags)))  # command-line syntax: "span=1.5", "--help-op"
  }
  vapply(seq_along(flags), function(i) {
    v <- flags[[i]]
    if (is.factor(v)) v <- as.character(v)
    text <- vapply(as.list(v), flag_text, "")
    paste0(nms[[i]], "=", if (length(text) == 1L) text else paste0("[", paste(text, collapse = ","), "]"))
  }, "")
}

# One value in runyard's flag syntax: strings quoted so they stay strings.
flag_text <- function(x) {
  if (is.character(x)) {
    if (grepl("\"", x, fixed = TRUE) && !grepl("'", x, fixed = TRUE)) return(paste0("'", x, "'"))
    return(paste0("\"", x, "\""))
  }
  format_value(x)
}

# Run runyard, echoing its output live at the console; returns the exit code
# and the tail of its error output. runyard's own "runyard: ..." lines are
# held back: on failure they are the R error's message (not shown twice).
# An interrupt stops runyard (and, while waiting, its run).
stream <- function(args, own_tree = TRUE, show_err = TRUE) {
  cmd <- runyard_command()
  # own_tree = FALSE for a run left in the background: it must outlive this call.
  p <- processx::process$new(cmd[[1L]], c(cmd[-1L], args), env = runyard_env(),
                             stdout = "|", stderr = "|", encoding = "UTF-8", cleanup_tree = own_tree)
  done <- FALSE
  on.exit(if (!done) stop_process(p, tree = own_tree), add = TRUE)
  err_tail <- character()
  held <- character()
  partial <- ""
  echo_err <- function(text, final = FALSE) {
    text <- paste0(partial, text)
    lines <- strsplit(text, "\n", fixed = TRUE)[[1L]]
    if (!final && !endsWith(text, "\n")) {
      partial <<- lines[length(lines)]
      lines <- lines[-length(lines)]
    } else {
      partial <<- ""
    }
    for (line in lines) {
      if (startsWith(line, "runyard: ")) held <<- c(held, line)
      else if (show_err) cat(line, "\n", sep = "", file = stderr())
    }
    err_tail <<- utils::tail(c(err_tail, lines), 50L)
  }
  repeat {
    p$poll_io(200L)
    out <- p$read_output()
    if (nzchar(out)) cat(out)
    err <- p$read_error()
    if (nzchar(err)) echo_err(err)
    if (!p$is_alive() && !p$is_incomplete_output() && !p$is_incomplete_error()) break
  }
  if (nzchar(partial)) echo_err("", final = TRUE)
  done <- TRUE
  code <- p$get_exit_status()
  if (code == 0L && length(held)) cat(held, sep = "\n", file = stderr())
  list(code = code, stderr = paste(err_tail, collapse = "\n"))
}

stop_process <- function(p, tree = TRUE) {
  if (!p$is_alive()) return(invisible())
  p$interrupt()
  p$wait(10000L)
  if (p$is_alive()) if (tree) p$kill_tree() else p$kill()
  invisible()
}

run_error_line <- function(stderr, code, ids) {
  if (!length(ids) || any(grepl("^runyard: ", strsplit(stderr, "\n")[[1L]]))) return(error_line(stderr, code))
  lines <- strsplit(stderr, "\r?\n")[[1L]]
  lines <- trimws(lines[nzchar(trimws(lines))])
  n <- length(ids)
  what <- if (n == 1L) paste("run", substr(ids, 1L, 8L)) else paste0("a run of the batch (", n, " runs)")
  paste0("runyard: ", what, if (code %in% c(2L, 130L)) " was stopped" else " failed",
         if (length(lines)) paste0(": ", lines[[length(lines)]]) else paste0(" (exit status ", code, ")"))
}
