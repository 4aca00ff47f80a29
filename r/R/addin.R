# RStudio addins (inst/rstudio/addins.dcf). They work without RStudio too.

rstudio_available <- function() {
  requireNamespace("rstudioapi", quietly = TRUE) && rstudioapi::isAvailable()
}

# The path of the active document in RStudio's editor, saved; NULL outside RStudio.
active_document <- function() {
  if (!rstudio_available()) return(NULL)
  try(rstudioapi::documentSaveAll(), silent = TRUE)
  ctx <- rstudioapi::getSourceEditorContext()
  if (is.null(ctx) || !nzchar(ctx$path)) NULL else ctx$path
}

#' RStudio addins
#'
#' "Run script with runyard" runs the script open in RStudio's editor with
#' [guild_run()] (the call is sent to the console); "Open runyard view"
#' calls [guild_view()]. Outside RStudio, `addin_run_script(path)` runs `path`.
#'
#' @param path The script (default: RStudio's active document).
#' @return The new run ids (or the view's URL), invisibly; `NULL` when there
#'   is no R script to run.
#' @examples
#' \dontrun{
#' addin_run_script("train.R")
#' }
#' @export
addin_run_script <- function(path = active_document()) {
  if (is.null(path) || !grepl("\\.[Rr]$", path)) {
    message("runyard: open an R script in the editor to run it (", if (is.null(path)) "no script is open" else basename(path), ")")
    return(invisible(NULL))
  }
  path <- normalizePath(path, mustWork = TRUE)
  wd <- normalizePath(getwd())
  rel <- if (startsWith(path, paste0(wd, "/"))) substring(path, nchar(wd) + 2L) else path
  call <- sprintf("runyard::guild_run(%s)", deparse(rel))
  if (rstudio_available()) {
    rstudioapi::sendToConsole(call, execute = TRUE)
    return(invisible(NULL))
  }
  invisible(eval(parse(text = call), globalenv()))
}

#' @rdname addin_run_script
#' @export
addin_view <- function() {
  if (rstudio_available()) {
    rstudioapi::sendToConsole("runyard::guild_view()", execute = TRUE)
    return(invisible(NULL))
  }
  guild_view()
}
