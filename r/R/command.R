# Calling the runyard command: finding it, its environment, its errors.

.globals <- new.env(parent = emptyenv())

PIP_HINT <- "python3 -m pip install runyard"

#' The runyard command this package calls
#'
#' The package is a thin client of the `runyard` command (a Python program).
#' It is found, in this order, from `options(runyard.command = )`, the
#' `RUNYARD_COMMAND` environment variable, then `runyard` on the `PATH`.
#' The option may be a character vector: a program and its first arguments,
#' e.g. `c("python3", "-m", "runyard.cli")`.
#'
#' @return A character vector: the program, then any arguments it needs.
#' @examples
#' \dontrun{
#' options(runyard.command = "~/.venvs/runyard/bin/runyard")
#' runyard_command()
#' }
#' @export
runyard_command <- function() {
  cmd <- getOption("runyard.command")
  from <- "options(runyard.command)"
  if (is.null(cmd) || !length(cmd) || !nzchar(cmd[[1L]])) {
    cmd <- Sys.getenv("RUNYARD_COMMAND")
    from <- "RUNYARD_COMMAND"
  }
  if (!nzchar(cmd[[1L]])) {
    found <- Sys.which("runyard")
    if (!nzchar(found)) {
      stop(runyard_condition(paste0(
        "the runyard command was not found: install it with `", PIP_HINT,
        "` (or point options(runyard.command = ) or RUNYARD_COMMAND at it)"
      )))
    }
    return(unname(found))
  }
  cmd <- as.character(cmd)
  prog <- path.expand(cmd[[1L]])
  if (!grepl("/", prog, fixed = TRUE)) prog <- unname(Sys.which(prog))
  if (!nzchar(prog) || !file.exists(prog)) {
    stop(runyard_condition(paste0(
      from, " is '", cmd[[1L]], "', which was not found: install runyard with `",
      PIP_HINT, "` or correct ", from
    )))
  }
  c(prog, cmd[-1L])
}

runyard_condition <- function(message, status = NA_integer_) {
  structure(
    class = c("runyard_error", "error", "condition"),
    list(message = message, call = NULL, status = status)
  )
}

# The library-path variable R's start-up script sets for R itself.
ld_var <- function() {
  if (identical(Sys.info()[["sysname"]], "Darwin")) "DYLD_FALLBACK_LIBRARY_PATH" else "LD_LIBRARY_PATH"
}

# What R's etc/ldpaths puts in front of the user's library path: found by
# running that script with the variable empty (once per session).
r_ld_prefix <- function() {
  if (!is.null(.globals$ld_prefix)) return(.globals$ld_prefix)
  prefix <- ""
  script <- file.path(R.home("etc"), "ldpaths")
  if (.Platform$OS.type == "unix" && file.exists(script)) {
    var <- ld_var()
    res <- tryCatch(
      processx::run("/bin/sh", c("-c", sprintf('. "$1" >/dev/null 2>&1; printf %%s "$%s"', var), "sh", script),
                    env = c(env_without(var), R_HOME = R.home()), error_on_status = FALSE),
      error = function(e) NULL
    )
    if (!is.null(res) && res$status == 0L) prefix <- res$stdout
  }
  .globals$ld_prefix <- prefix
  prefix
}

env_without <- function(names) {
  env <- Sys.getenv()
  env <- stats::setNames(as.character(env), names(env))
  env[!names(env) %in% names]
}

#' The environment runyard is started with
#'
#' The current environment, without the library paths that R's start-up
#' script added for R itself (`LD_LIBRARY_PATH` on Linux): inherited by a
#' Python program, they can make it load another Python's shared library.
#' A library path the user set before starting R is kept.
#'
#' @return A named character vector.
#' @keywords internal
runyard_env <- function() {
  var <- ld_var()
  env <- env_without(character())
  cur <- env[var]
  prefix <- r_ld_prefix()
  if (!is.na(cur) && nzchar(prefix)) {
    # R started from R (Rscript in a run, in a test) adds its directories again.
    cur <- unname(cur)
    while (startsWith(cur, paste0(prefix, ":"))) cur <- substring(cur, nchar(prefix) + 2L)
    if (identical(cur, prefix)) cur <- ""
    if (nzchar(cur)) env[[var]] <- cur else env <- env[names(env) != var]
  }
  env
}

# One line for an R error from a failed runyard call: runyard's own
# "runyard: ..." line, else the last line of its error output.
error_line <- function(stderr, status) {
  lines <- strsplit(stderr, "\r?\n")[[1L]]
  lines <- lines[nzchar(trimws(lines))]
  own <- grep("^runyard: ", lines, value = TRUE)
  click <- grep("^Error: ", lines, value = TRUE)  # a usage error from the command line parser
  if (length(own)) return(own[[length(own)]])
  if (length(click)) return(paste0("runyard: ", sub("^Error: ", "", click[[length(click)]])))
  if (length(lines)) return(paste0("runyard: ", lines[[length(lines)]]))
  paste0("runyard exited with status ", status)
}

# Run `runyard ARGS...` and return its standard output (a string). An error
# from runyard becomes an R error carrying its one-line message.
runyard <- function(args, echo = FALSE, error = TRUE) {
  cmd <- runyard_command()
  res <- processx::run(
    cmd[[1L]], c(cmd[-1L], as.character(args)),
    env = runyard_env(), error_on_status = FALSE, echo = echo,
    encoding = "UTF-8", windows_verbatim_args = FALSE, cleanup_tree = TRUE
  )
  if (error && res$status != 0L) stop(runyard_condition(error_line(res$stderr, res$status), res$status))
  res$stdout
}

runyard_json <- function(args) {
  out <- runyard(args)
  jsonlite::parse_json(out, simplifyVector = FALSE)
}

# `...` of the R functions -> command-line arguments, as the seed does:
# name = value -> --name value (underscores become dashes), TRUE -> --name,
# FALSE/NA/NULL -> nothing, a vector repeats the option; .x -> -x; unnamed
# strings pass through (I("a b 'c d'") is split as a shell would).
cli_args <- function(...) {
  dots <- list(...)
  if (!length(dots)) return(character())
  nms <- names(dots)
  if (is.null(nms)) nms <- rep("", length(dots))
  out <- character()
  for (i in seq_along(dots)) {
    v <- dots[[i]]
    nm <- nms[[i]]
    if (is.null(v)) next
    if (!nzchar(nm)) {
      if (is.list(v)) {
        out <- c(out, do.call(cli_args, v))
      } else if (inherits(v, "AsIs")) {
        out <- c(out, shell_words(paste(as.character(v), collapse = " ")))
      } else if (!is.null(names(v)) && any(nzchar(names(v)))) {
        out <- c(out, do.call(cli_args, as.list(v)))
      } else {
        out <- c(out, as.character(v))
      }
      next
    }
    opt <- if (startsWith(nm, "-")) nm else if (startsWith(nm, ".")) sub("^\\.", "-", nm) else paste0("--", gsub("_", "-", nm))
    if (is.logical(v) && length(v) == 1L) {
      if (isTRUE(v)) out <- c(out, opt)
      next
    }
    v <- v[!is.na(v)]
    for (x in v) out <- c(out, opt, format_value(x))
  }
  out
}

# Split `text` into words as a POSIX shell does: whitespace separates words; quotes may
# start anywhere in a word (msg='a b' is one word, msg=a b); '...' keeps everything,
# "..." keeps all but \" \\ \$ \` escapes; a backslash outside quotes escapes the next
# character. An unclosed quote is an error.
shell_words <- function(text) {
  chars <- strsplit(enc2utf8(text), "")[[1L]]
  words <- character()
  cur <- character()
  in_word <- FALSE
  quote <- ""
  i <- 1L
  n <- length(chars)
  while (i <= n) {
    ch <- chars[[i]]
    if (quote == "'") {
      if (ch == "'") quote <- "" else cur <- c(cur, ch)
    } else if (quote == '"') {
      if (ch == '"') {
        quote <- ""
      } else if (ch == "\\" && i < n && chars[[i + 1L]] %in% c('"', "\\", "$", "`")) {
        i <- i + 1L
        cur <- c(cur, chars[[i]])
      } else {
        cur <- c(cur, ch)
      }
    } else if (grepl("^[[:space:]]$", ch)) {
      if (in_word) words <- c(words, paste(cur, collapse = ""))
      cur <- character()
      in_word <- FALSE
    } else {
      in_word <- TRUE
      if (ch == "'" || ch == '"') {
        quote <- ch
      } else if (ch == "\\" && i < n) {
        i <- i + 1L
        cur <- c(cur, chars[[i]])
      } else {
        cur <- c(cur, ch)
      }
    }
    i <- i + 1L
  }
  if (nzchar(quote)) stop(paste0("runyard: unclosed ", quote, " in: ", text), call. = FALSE)
  if (in_word) words <- c(words, paste(cur, collapse = ""))
  words
}

# A value as text that runyard reads back exactly: numbers in the fewest
# digits that round-trip, logicals as true/false.
format_value <- function(x) {
  if (is.logical(x)) return(if (x) "true" else "false")
  if (is.numeric(x) && !is.integer(x)) {
    if (!is.finite(x)) return(if (is.nan(x)) "nan" else if (x > 0) "inf" else "-inf")
    for (d in 15:17) {
      s <- formatC(x, digits = d, format = "g")
      if (as.numeric(s) == x) return(trimws(s))
    }
    return(trimws(formatC(x, digits = 17, format = "g")))
  }
  as.character(x)
}

# `runs` of the R functions -> run selectors for the command line.
# NULL -> character() (all runs); a data frame or list with an `id` (or
# `run`) column -> its unique ids; numbers -> their indexes ("1" = latest).
# Returns NULL when `runs` selects nothing (an empty data frame): callers
# must then do nothing rather than act on every run.
run_selectors <- function(runs) {
  if (is.null(runs)) return(character())
  if (is.data.frame(runs) || (is.list(runs) && !is.null(names(runs)))) {
    col <- if ("id" %in% names(runs)) runs[["id"]] else if ("run" %in% names(runs)) runs[["run"]] else NULL
    if (is.null(col)) stop(runyard_condition("runyard: `runs` has no `id` or `run` column"))
    ids <- unique(as.character(unlist(col)))
    ids <- ids[!is.na(ids) & nzchar(ids)]
    if (!length(ids)) return(NULL)
    return(ids)
  }
  if (inherits(runs, "AsIs") && is.character(runs)) return(shell_words(paste(runs, collapse = " ")))
  if (is.list(runs)) runs <- unlist(runs)
  if (!length(runs)) return(NULL)
  if (is.numeric(runs)) return(as.character(as.integer(runs)))
  as.character(runs)
}
