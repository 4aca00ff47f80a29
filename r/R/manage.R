# Managing runs: annotate, delete, export. Each returns its `runs` invisibly so calls chain.

# Run `runyard <command> --yes <options> <runs>` on the selected runs; nothing
# at all when the selection is empty (an empty data frame never means "all").
manage <- function(command, runs, options = character(), ...) {
  sel <- run_selectors(runs)
  if (!is.null(sel)) runyard(c(command, "--yes", options, cli_args(...), sel))
  invisible(runs)
}

#' Annotate runs: tags, marks, labels and comments
#'
#' @param runs The runs: see [runs-selection]. `NULL` means every run.
#' @param add Tags to add (a character vector).
#' @param remove Tags to remove.
#' @param clear `TRUE` removes all tags (or the mark, label, comments) first.
#' @param label The new label.
#' @param comment A comment to add (a character vector is joined with newlines).
#' @param delete The number of a comment to delete (1 = the first, as in
#'   `ls_runs()$comments[[i]]`).
#' @param ... Filters narrowing `runs` (see [runs-selection]) and other
#'   options of the runyard command, e.g. `prepend =` and `append =` for labels.
#' @return `runs`, invisibly.
#' @examples
#' \dontrun{
#' ls_runs(1) |> runs_tag("best") |> runs_mark()
#' runs_tag(1, remove = "best")
#' runs_label(1, "baseline")
#' runs_comment(1, "the first run with the new data")
#' }
#' @export
runs_tag <- function(runs = NULL, add = NULL, ..., remove = NULL, clear = FALSE) {
  if (!length(add) && !length(remove) && !isTRUE(clear)) {
    stop(runyard_condition("runyard: runs_tag() needs tags to `add` or `remove`, or `clear = TRUE`"))
  }
  manage("tag", runs, cli_args(clear = clear, delete = remove, add = add), ...)
}

#' @rdname runs_tag
#' @export
runs_mark <- function(runs = NULL, ..., clear = FALSE) {
  manage("mark", runs, cli_args(clear = clear), ...)
}

#' @rdname runs_tag
#' @export
runs_label <- function(runs = NULL, label = NULL, ..., clear = FALSE) {
  manage("label", runs, cli_args(clear = clear, set = label), ...)
}

#' @rdname runs_tag
#' @export
runs_comment <- function(runs = NULL, comment = NULL, ..., delete = NULL, clear = FALSE) {
  if (is.null(comment) && is.null(delete) && !isTRUE(clear)) {
    stop(runyard_condition("runyard: runs_comment() needs a `comment`, `delete = N` or `clear = TRUE`"))
  }
  if (!is.null(comment)) comment <- paste(comment, collapse = "\n")
  manage("comment", runs, cli_args(clear = clear, delete = delete, add = comment), ...)
}

#' Delete, restore and purge runs
#'
#' `runs_delete()` moves runs to the trash (stopping them if they are still
#' running); `runs_restore()` brings deleted runs back; `runs_purge()`
#' removes deleted runs for good. Deleted runs are listed by
#' `ls_runs(deleted = TRUE)`.
#'
#' @param runs The runs: see [runs-selection]. `NULL` means every run (for
#'   `runs_restore()` and `runs_purge()`: every deleted run).
#' @param ... Filters narrowing `runs`; `permanent = TRUE` makes
#'   `runs_delete()` skip the trash.
#' @return `runs`, invisibly.
#' @examples
#' \dontrun{
#' runs_delete(ls_runs(error = TRUE))
#' runs_restore()
#' runs_purge()
#' }
#' @export
runs_delete <- function(runs = NULL, ...) {
  manage(c("runs", "delete"), runs, character(), ...)
}

#' @rdname runs_delete
#' @export
runs_restore <- function(runs = NULL, ...) {
  manage(c("runs", "restore"), runs, character(), ...)
}

#' @rdname runs_delete
#' @export
runs_purge <- function(runs = NULL, ...) {
  manage(c("runs", "purge"), runs, character(), ...)
}

#' Export and import runs
#'
#' `runs_export()` copies (or moves) runs to a directory or a `.zip` file;
#' `runs_import()` brings runs from one into the runs home (runs already there
#' are skipped).
#'
#' @param runs The runs: see [runs-selection]. For `runs_import()`, the runs
#'   of the archive to import (`NULL`: all of them); `runs_import("dir")`
#'   with one argument imports everything from `"dir"`.
#' @param location A directory, or a file ending in `.zip`.
#' @param move `TRUE` moves the runs instead of copying them.
#' @param ... Filters narrowing `runs` (export only).
#' @return `runs`, invisibly.
#' @examples
#' \dontrun{
#' ls_runs(1) |> runs_export("./best-runs")
#' runs_import(location = "./best-runs")
#' }
#' @export
runs_export <- function(runs = NULL, location, ..., move = FALSE) {
  if (missing(location)) stop(runyard_condition("runyard: runs_export() needs a `location` (a directory or a .zip file)"))
  sel <- run_selectors(runs)
  if (!is.null(sel)) {
    runyard(c("export", "--yes", cli_args(move = move, ...), path.expand(location), sel))
  }
  invisible(runs)
}

#' @rdname runs_export
#' @export
runs_import <- function(runs = NULL, location, ..., move = FALSE) {
  if (missing(location)) {
    if (is.character(runs) && length(runs) == 1L && file.exists(runs)) {
      location <- runs
      runs <- NULL
    } else {
      stop(runyard_condition("runyard: runs_import() needs a `location` (a directory or a .zip file)"))
    }
  }
  sel <- run_selectors(runs)
  if (!is.null(sel)) {
    runyard(c("import", "--yes", cli_args(move = move, ...), path.expand(location), sel))
  }
  invisible(runs)
}
