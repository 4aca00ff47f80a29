# runyard's R driver: runs one R script inside a run directory.
#
#   Rscript --no-save --no-restore r_driver.R <script relpath> <echo TRUE|FALSE>
#
# The working directory is the run directory; it already holds the source
# snapshot with the run's flag values written into it. The driver
#   * echoes each top-level expression with "> " / "+ " prompts, as
#     source(echo = TRUE) does (off with echo FALSE; options(echo = FALSE)
#     inside the script turns it off from that point on), and prints
#     visible values as Rscript does;
#   * sends plots made without an explicit device to plots/Rplot001.png, ...;
#   * calls set.seed() with the run's random_seed attribute (a seed outside
#     R's integer range is replaced by a fresh one in range, written back);
#   * prints numbers with 15 significant digits so scalars keep precision;
#   * on an error writes the attribute .guild/attrs/r_error (YAML: message,
#     call, traceback) and exits with status 1.
# Only the base, utils, grDevices and stats packages are used.

local({
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) < 1L) {
    cat("usage: r_driver.R SCRIPT [ECHO]\n", file = stderr())
    quit(save = "no", status = 2L)
  }
  script <- args[[1L]]
  echo <- if (length(args) >= 2L) toupper(args[[2L]]) %in% c("TRUE", "T", "YES", "1") else TRUE
  run_dir <- normalizePath(getwd())
  attrs_dir <- file.path(run_dir, ".guild", "attrs")

  # -- YAML output (no packages) -------------------------------------------
  yaml_str <- function(s) {
    if (is.null(s) || length(s) == 0L || is.na(s[[1L]])) return("null")
    s <- enc2utf8(as.character(s[[1L]]))
    if (!validUTF8(s)) s <- iconv(s, "latin1", "UTF-8", sub = "?")
    cps <- utf8ToInt(s)
    if (length(cps) == 0L || anyNA(cps)) return(if (length(cps) == 0L) "\"\"" else "\"?\"")
    out <- vapply(cps, function(cp) {
      if (cp == 92L) "\\\\"
      else if (cp == 34L) "\\\""
      else if (cp == 10L) "\\n"
      else if (cp == 13L) "\\r"
      else if (cp == 9L) "\\t"
      else if (cp < 32L || cp == 127L) sprintf("\\x%02X", cp)
      else intToUtf8(cp)
    }, "")
    paste0("\"", paste(out, collapse = ""), "\"")
  }

  write_attr <- function(name, lines) {
    dir.create(attrs_dir, showWarnings = FALSE, recursive = TRUE)
    dest <- file.path(attrs_dir, name)
    tmp <- tempfile(paste0(".", name, "-"), tmpdir = attrs_dir)
    con <- file(tmp, open = "wb")
    writeLines(enc2utf8(lines), con, useBytes = TRUE)
    close(con)
    if (!file.rename(tmp, dest)) unlink(tmp)
  }

  # -- plots, digits, seed -------------------------------------------------
  plots_dir <- file.path(run_dir, "plots")
  n_devices <- 0L
  options(
    device = function(...) {
      n_devices <<- n_devices + 1L
      dir.create(plots_dir, showWarnings = FALSE, recursive = TRUE)
      # The first device writes Rplot001.png, Rplot002.png, ...; a device
      # opened after it was closed writes Rplot2-001.png, ... (nothing is
      # overwritten).
      pattern <- if (n_devices == 1L) "Rplot%03d.png" else sprintf("Rplot%d-%%03d.png", n_devices)
      type <- if (isTRUE(capabilities("cairo"))) "cairo" else getOption("bitmapType")
      grDevices::png(file.path(plots_dir, pattern), width = 1200, height = 715,
                     res = 192, type = type)
    },
    digits = max(15L, getOption("digits"))
  )

  # The seed is the run's random_seed attribute. One outside R's integer range
  # (drawn by Guild AI, or given by a user) cannot be passed to set.seed():
  # a fresh seed in R's range is drawn and written back, so the attribute is
  # always the seed the run used.
  seed_file <- file.path(attrs_dir, "random_seed")
  if (file.exists(seed_file)) {
    txt <- trimws(readLines(seed_file, warn = FALSE, n = 1L))
    seed <- suppressWarnings(as.numeric(txt))
    if (length(seed) == 1L && is.finite(seed)) {
      if (abs(seed) > .Machine$integer.max || seed != round(seed)) {
        set.seed(NULL)
        seed <- sample.int(.Machine$integer.max, 1L)
        write_attr("random_seed", as.character(seed))
      }
      set.seed(as.integer(seed))
    }
  }

  # -- the script ----------------------------------------------------------
  lines <- readLines(script, warn = FALSE)  # native encoding, as Rscript reads a script
  eval_frame <- quote(eval(.runyard_expr, globalenv()))
  run_expr <- function(.runyard_expr) withVisible(eval(.runyard_expr, globalenv()))

  show_lines <- function(first, last, leading) {
    # Echo lines first..last: "> " before the first `leading` of them
    # (comments leading up to the expression and its first line), "+ "
    # before the rest. Leading blank lines are skipped.
    dep <- lines[first:last]
    while (length(dep) && grepl("^[[:blank:]]*$", dep[1L])) {
      dep <- dep[-1L]
      leading <- leading - 1L
    }
    if (!length(dep)) return(invisible())
    prompts <- rep.int(c("> ", "+ "), pmax(0L, c(leading, length(dep) - leading)))
    cat(paste0(prompts, dep), sep = "\n")
  }

  error_attr <- function(e, calls) {
    n <- length(calls) - 1L  # drop this handler's own frame
    if (n >= 1L && identical(calls[[n]][[1L]], as.name(".handleSimpleError"))) n <- n - 1L
    start <- NA_integer_  # user frames follow the driver's eval() (none for a parse error)
    for (i in seq_len(n)) if (identical(calls[[i]], eval_frame)) start <- i + 1L
    user <- if (!is.na(start) && n >= start) calls[start:n] else list()
    trace <- vapply(rev(user), function(cl) {
      paste(utils::head(deparse(cl, width.cutoff = 100L), 20L), collapse = "\n")
    }, "")
    call <- conditionCall(e)
    if (!parsed || identical(call, eval_frame)) call <- NULL
    call_txt <- if (is.null(call)) NULL else paste(deparse(call, width.cutoff = 100L), collapse = "\n")
    out <- c(paste0("message: ", yaml_str(conditionMessage(e))),
             paste0("call: ", yaml_str(call_txt)))
    out <- c(out, if (length(trace)) c("traceback:", paste0("- ", vapply(trace, yaml_str, "")))
                  else "traceback: []")
    write_attr("r_error", out)
  }

  report_error <- function(e) {
    call <- conditionCall(e)
    if (!parsed || identical(call, eval_frame)) call <- NULL
    msg <- conditionMessage(e)
    line <- if (is.null(call)) paste0("Error: ", msg)
            else paste0("Error in ", deparse(call, nlines = 1L)[1L], " : ", msg)
    cat(line, "\n", sep = "", file = stderr())
  }

  failed <- FALSE
  parsed <- FALSE
  old_echo <- getOption("echo")
  options(echo = echo)
  tryCatch(withCallingHandlers({
    exprs <- parse(text = lines, keep.source = TRUE,
                   srcfile = srcfilecopy(script, lines, isFile = TRUE))
    srcrefs <- attr(exprs, "srcref")
    parsed <- TRUE
    lastshown <- 0L
    for (i in seq_along(exprs)) {
      sr <- srcrefs[[i]]
      if (lastshown < sr[3L]) {
        if (isTRUE(getOption("echo"))) show_lines(lastshown + 1L, sr[3L], sr[1L] - lastshown)
        lastshown <- sr[3L]
      }
      res <- run_expr(exprs[[i]])
      if (res$visible) print(res$value)
      flush(stdout())
    }
    if (isTRUE(getOption("echo")) && lastshown < length(lines)) {
      tail_lines <- lines[(lastshown + 1L):length(lines)]
      keep <- which(!grepl("^[[:blank:]]*$", tail_lines))
      if (length(keep)) show_lines(lastshown + 1L, lastshown + max(keep), max(keep))
    }
  }, error = function(e) error_attr(e, sys.calls()),
  warning = function(w) {
    # A warning from a top-level expression reads "Warning message: ..." as
    # under Rscript, not "In eval(.runyard_expr, ...)".
    if (identical(conditionCall(w), eval_frame)) {
      warning(simpleWarning(conditionMessage(w), NULL))
      invokeRestart("muffleWarning")
    }
  }),
  error = function(e) {
    report_error(e)
    failed <<- TRUE
  })
  options(echo = old_echo)
  flush(stdout())
  if (failed) {
    try(grDevices::graphics.off(), silent = TRUE)
    quit(save = "no", status = 1L)
  }
  grDevices::graphics.off()
  invisible()
})
