# Viewing runs: the web view, run reports and diffs.

#' Open the runyard view
#'
#' Starts the web view (`runyard view`) in the background, where you can
#' browse, filter, compare and manage runs, including while they are
#' running. Calling it again replaces the view; `stop = TRUE` stops it. The
#' view stops when the R session ends.
#'
#' @param runs The runs shown: see [runs-selection] (`NULL`: all).
#' @param ... Filters (see [runs-selection]) and options of `runyard view`.
#' @param host The address to listen on (default: `127.0.0.1`).
#' @param port The port (default: a free one).
#' @param open `TRUE` opens the view in RStudio's viewer or the web browser.
#' @param stop `TRUE` stops the view started before, and starts none.
#' @return The view's URL, invisibly (the URL of the stopped view for `stop = TRUE`).
#' @examples
#' \dontrun{
#' guild_view()
#' url <- guild_view(open = FALSE)
#' guild_view(stop = TRUE)
#' }
#' @export
guild_view <- function(runs = NULL, ..., host = NULL, port = NULL, open = interactive(), stop = FALSE) {
  old <- .globals$view
  if (!is.null(old)) {
    .globals$view <- NULL
    stop_process(old$process)
    if (isTRUE(stop)) return(invisible(old$url))
  }
  if (isTRUE(stop)) return(invisible(""))
  sel <- run_selectors(runs)
  if (is.null(sel)) stop(runyard_condition("runyard: `runs` selects no runs"))
  cmd <- runyard_command()
  p <- processx::process$new(
    cmd[[1L]], c(cmd[-1L], "view", "--no-open", cli_args(host = host, port = port, ...), sel),
    env = runyard_env(), stdout = "|", stderr = "|", encoding = "UTF-8", cleanup_tree = TRUE
  )
  url <- wait_for_url(p)
  .globals$view <- list(process = p, url = url)
  message("runyard view at ", url)
  if (isTRUE(open)) open_url(url)
  invisible(url)
}

wait_for_url <- function(p, timeout = 60) {
  text <- ""
  end <- Sys.time() + timeout
  while (Sys.time() < end) {
    p$poll_io(200L)
    text <- paste0(text, p$read_output(), p$read_error())
    m <- regmatches(text, regexpr("https?://[^[:space:]]+", text))
    if (length(m)) return(sub("[).,]+$", "", m))
    if (!p$is_alive()) {
      text <- paste0(text, p$read_all_output(), p$read_all_error())
      stop(runyard_condition(error_line(text, p$get_exit_status()), p$get_exit_status()))
    }
  }
  stop_process(p)
  stop(runyard_condition("runyard: the view did not start within a minute"))
}

# Show a page: in RStudio's viewer when it can (a local server, or a file
# under the session's temporary directory), else in the web browser.
open_url <- function(url) {
  if (rstudio_available() && grepl("^https?://(127\\.0\\.0\\.1|localhost)[:/]", url)) {
    rstudioapi::viewer(url)
  } else {
    utils::browseURL(url)
  }
  invisible(url)
}

open_file <- function(path) {
  open_url(if (grepl("^[a-z]+://", path)) path else paste0("file://", normalizePath(path)))
}

#' Reports of runs
#'
#' `view_run_report()` writes a self-contained HTML report of one run: its
#' flags, scalars (with charts), output, source code, plots and files.
#' `view_runs_diff()` writes one comparing two runs: flags, scalars, source
#' code and output side by side. Both open the page when R is interactive.
#'
#' @param run The run: see [runs-selection] (default: the latest).
#' @param runs Two runs (default: the latest two), e.g. `ls_runs(1:2)`.
#' @param ... Filters narrowing the selection.
#' @param open `TRUE` opens the page in the web browser.
#' @return The path of the HTML file, invisibly.
#' @examples
#' \dontrun{
#' view_run_report(1)
#' ls_runs(1:2) |> view_runs_diff()
#' }
#' @export
view_run_report <- function(run = 1, ..., open = interactive()) {
  sel <- run_selectors(run)
  if (is.null(sel) || !length(sel)) sel <- "1"
  path <- trimws(runyard(c("report", "--no-open", cli_args(...), sel)))
  if (isTRUE(open)) open_file(path)
  invisible(path)
}

#' @rdname view_run_report
#' @export
view_runs_diff <- function(runs = 1:2, ..., open = interactive()) {
  sel <- run_selectors(runs)
  if (is.null(sel)) sel <- character()
  if (length(sel) == 0L) sel <- c("1", "2")
  path <- trimws(runyard(c("diff", "--html", "--no-open", cli_args(...), sel)))
  if (isTRUE(open)) open_file(path)
  invisible(path)
}
