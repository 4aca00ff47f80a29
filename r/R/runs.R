# Reading runs: ls_runs() / runs_info(), ls_scalars() / runs_scalars(), resolve_run_ids().

#' Selecting runs
#'
#' Every function taking `runs` accepts the same selections as runyard's
#' Python API and command line:
#' * `NULL`: all runs;
#' * numbers: indexes, newest first (`1` is the latest run, `1:3` the latest three);
#' * strings: run ids, unique id prefixes, ranges such as `"2:4"`, or
#'   command-line options such as `"--marked"`;
#' * a data frame (or list) with an `id` or `run` column, such as the result
#'   of [ls_runs()] or [ls_scalars()]: its unique ids. An empty data frame
#'   selects no runs.
#'
#' Filters go in `...`, named as runyard's options: `running`, `completed`,
#' `error`, `terminated`, `pending`, `staged`, `marked`, `unmarked`, `label`,
#' `unlabeled`, `tag`, `operation`, `comment`, `started` (`"last hour"`,
#' `"today"`, `"after 2026-01-02"`, ...), `digest`, `filter` (an expression
#' such as `"flag:span < 1 and scalar:rmse <= 15"`) and `include_batch`.
#' `TRUE` turns a switch on; a string gives a value; a vector repeats the
#' option. Terminal syntax works too: `ls_runs("--marked", started = "last hour")`,
#' `ls_runs(I("--marked --started 'last hour'"))`.
#'
#' @name runs-selection
#' @keywords internal
NULL

#' List runs
#'
#' A tibble with one row per run, newest first. `runs_info()` is the same
#' function under the R package's later name.
#'
#' @param runs The runs: see [runs-selection]. `NULL` (the default) lists all.
#' @param ... Filters (`marked = TRUE`, `started = "last hour"`, ...) or
#'   terminal syntax (`"--marked"`); `deleted = TRUE` lists the trash.
#' @return A tibble with the columns `id`, `label`, `tags` (list of character),
#'   `marked`, `flags` (a data-frame column: one column per flag,
#'   `ls_runs()$flags$span`), `scalars` (list of tibbles, one row per scalar:
#'   `run, path, tag, first_val, first_step, last_val, last_step, min_val,
#'   min_step, max_val, max_step, avg_val, total, count`), `operation`,
#'   `started`, `stopped` (POSIXct), `comments` (list of tibbles `body, host,
#'   time, user`), `status`, `exit_status`, `deps`, `project_dir` and `dir`.
#' @examples
#' \dontrun{
#' runs <- ls_runs()
#' runs$flags$span
#' ls_runs(1:2)
#' ls_runs(marked = TRUE, started = "last hour")
#' }
#' @export
ls_runs <- function(runs = NULL, ...) {
  sel <- run_selectors(runs)
  if (is.null(sel)) return(runs_tibble(list()))
  args <- c("api", "runs", sel, cli_args(...))
  if (show_help(args)) return(invisible(runs_tibble(list())))
  runs_tibble(runyard_json(args))
}

# `"--help"` among the arguments (resolve_run_ids("--help")): print runyard's help.
show_help <- function(args) {
  if (!any(args %in% c("--help", "-h"))) return(FALSE)
  cat(runyard(args))
  TRUE
}

#' @rdname ls_runs
#' @export
runs_info <- ls_runs

#' Scalars of runs
#'
#' Every scalar value the runs logged, one row per value: output scalars
#' (lines such as `rmse: 14.4` in the run's output, `path` `.guild`) and
#' TensorBoard event files (`path` their directory in the run). `runs_scalars()`
#' is the same function under the R package's later name.
#'
#' @inheritParams ls_runs
#' @return A tibble with columns `run` (full run id), `path`, `tag`, `value`, `step`.
#' @examples
#' \dontrun{
#' ls_scalars()
#' ls_scalars(1)
#' }
#' @export
ls_scalars <- function(runs = NULL, ...) {
  sel <- run_selectors(runs)
  args <- c("api", "scalars", sel, cli_args(...))
  cols <- if (is.null(sel) || show_help(args)) list() else runyard_json(args)
  tibble::new_tibble(list(
    run = chr_col(cols$run),
    path = chr_col(cols$path),
    tag = chr_col(cols$tag),
    value = dbl_col(cols$value),
    step = dbl_col(cols$step)
  ), nrow = length(cols$run))
}

#' @rdname ls_scalars
#' @export
runs_scalars <- ls_scalars

#' Resolve a run selection to run ids
#'
#' @inheritParams ls_runs
#' @return A character vector of full run ids, newest first. A data frame (or
#'   list) with an `id` or `run` column gives its unique ids.
#'   `resolve_run_ids("--help")` prints the selection and filter options.
#' @examples
#' \dontrun{
#' resolve_run_ids(1:2)
#' resolve_run_ids("--marked")
#' }
#' @export
resolve_run_ids <- function(runs = NULL, ...) {
  sel <- run_selectors(runs)
  if (is.null(sel)) return(character())
  if ((is.data.frame(runs) || is.list(runs)) && !...length()) return(sel)
  args <- c("api", "runs", sel, cli_args(...))
  if (show_help(args)) return(invisible(character()))
  vapply(runyard_json(args), function(r) r$id, "")
}

# --- building the tibbles --------------------------------------------------------------------------

chr_col <- function(x) {
  if (!length(x)) return(character())
  vapply(x, function(v) if (is.null(v)) NA_character_ else as.character(v), "")
}

num_value <- function(v) {
  if (is.null(v)) return(NA_real_)
  if (is.character(v)) return(switch(v, "NaN" = NaN, "Inf" = Inf, "-Inf" = -Inf, suppressWarnings(as.numeric(v))))
  as.numeric(v)
}

dbl_col <- function(x) {
  if (!length(x)) return(double())
  vapply(x, num_value, 0)
}

# Whole numbers as integers while they fit, else doubles.
int_col <- function(x) {
  v <- dbl_col(x)
  if (all(is.na(v) | (abs(v) <= .Machine$integer.max & v == round(v)))) as.integer(v) else v
}

time_col <- function(x) {
  us <- dbl_col(x)
  .POSIXct(us / 1e6)
}

# A flag column in the R type of its values: logical, double or character.
flag_col <- function(values) {
  present <- !vapply(values, is.null, TRUE)
  vals <- values[present]
  if (!length(vals)) return(rep(NA, length(values)))
  if (all(vapply(vals, is.logical, TRUE))) {
    out <- rep(NA, length(values))
    out[present] <- unlist(vals)
    return(out)
  }
  if (all(vapply(vals, function(v) is.numeric(v) || (is.character(v) && v %in% c("NaN", "Inf", "-Inf")), TRUE))) {
    out <- rep(NA_real_, length(values))
    out[present] <- vapply(vals, num_value, 0)
    return(out)
  }
  out <- rep(NA_character_, length(values))
  out[present] <- vapply(vals, function(v) if (is.list(v)) jsonlite::toJSON(v, auto_unbox = TRUE) else as.character(v), "")
  out
}

SCALAR_COLS <- c("first_val", "first_step", "last_val", "last_step", "min_val", "min_step",
                 "max_val", "max_step", "avg_val", "total", "count")

scalars_tibble <- function(id, recs) {
  get <- function(key) lapply(recs, function(s) s[[key]])
  steps <- c("first_step", "last_step", "min_step", "max_step", "count")
  cols <- list(run = rep(id, length(recs)), path = chr_col(get("path")), tag = chr_col(get("tag")))
  for (k in SCALAR_COLS) cols[[k]] <- if (k %in% steps) int_col(get(k)) else dbl_col(get(k))
  if (!length(recs)) for (k in steps) cols[[k]] <- integer()
  tibble::new_tibble(cols, nrow = length(recs))
}

comments_tibble <- function(recs) {
  get <- function(key) lapply(recs, function(s) s[[key]])
  tibble::new_tibble(list(body = chr_col(get("body")), host = chr_col(get("host")),
                          time = time_col(get("time")), user = chr_col(get("user"))), nrow = length(recs))
}

# The tibbles are built with new_tibble(): their columns are made here, with the
# right lengths, and tibble() would cost ~1 ms each (seconds for 1,000 runs).

runs_tibble <- function(runs) {
  field <- function(key) lapply(runs, function(r) r[[key]])
  ids <- chr_col(field("id"))
  flags <- field("flags")
  flag_names <- sort(unique(unlist(lapply(flags, names))))
  flag_cols <- lapply(stats::setNames(flag_names, flag_names), function(n) flag_col(lapply(flags, function(f) f[[n]])))
  flags_df <- tibble::new_tibble(flag_cols, nrow = length(runs))
  exit <- field("exit_status")
  tibble::new_tibble(list(
    id = ids,
    label = chr_col(lapply(field("label"), function(l) if (is.null(l)) "" else l)),
    tags = lapply(field("tags"), function(t) as.character(unlist(t))),
    marked = vapply(field("marked"), isTRUE, TRUE),
    flags = flags_df,
    scalars = Map(scalars_tibble, ids, field("scalars"), USE.NAMES = FALSE),
    operation = chr_col(field("operation")),
    started = time_col(field("started")),
    stopped = time_col(field("stopped")),
    comments = lapply(field("comments"), comments_tibble),
    status = chr_col(field("status")),
    exit_status = if (length(exit)) vapply(exit, function(v) if (is.null(v)) NA_integer_ else as.integer(v), 0L) else integer(),
    deps = lapply(field("deps"), function(d) if (is.null(d)) list() else d),
    project_dir = chr_col(field("project_dir")),
    dir = chr_col(field("dir"))
  ), nrow = length(runs))
}
