# Inside a run: is_run_active(), write_run_attr().

#' Is this R session a run?
#'
#' `TRUE` in a script started by [guild_run()] or `runyard run`: runyard
#' sets `RUN_DIR` to the run directory (the working directory of the run).
#'
#' @return `TRUE` or `FALSE`.
#' @examples
#' if (is_run_active()) message("running in ", Sys.getenv("RUN_DIR"))
#' @export
is_run_active <- function() {
  nzchar(Sys.getenv("RUN_DIR"))
}

#' Record an attribute of the current run
#'
#' From a script under a run, stores `value` as the run attribute `name`
#' (shown by the view and `runyard runs info`). Outside a run it does nothing.
#'
#' @param name The attribute name (letters, digits, `_`, `-`, `.`).
#' @param value Any value jsonlite can write: a string, number, logical,
#'   vector or list. Missing or `NULL` removes the attribute.
#' @return `value`, invisibly.
#' @examples
#' \dontrun{
#' write_run_attr("data_version", "2026-01")
#' }
#' @export
write_run_attr <- function(name, value) {
  if (missing(value)) value <- NULL
  if (!is_run_active()) return(invisible(value))
  args <- c("api", "write-attr", name)
  if (!is.null(value)) args <- c(args, jsonlite::toJSON(value, auto_unbox = TRUE, digits = NA, null = "null", na = "null"))
  runyard(args)
  invisible(value)
}
