# Groups of runs and tests between them: runs_summary(), runs_versus().

#' Summarize groups of runs
#'
#' One row per group of runs: the runs of one operation whose flags are equal
#' except their seed flag (the flag `guild_run(..., seeds = 5)` sets), or,
#' with `by`, whose listed flags are equal. For each scalar (its last value
#' per run, as in [ls_runs()]): the mean, the standard deviation, a Student-t
#' confidence interval of the mean (`NA` bounds for a group of one run), the
#' min, the max and the number of runs with a value. Only completed runs count
#' unless a status filter (`error = TRUE`, ...) is given. Works in pipelines:
#' `ls_runs(filter = "flag:epochs = 10") |> runs_summary()`.
#'
#' @param runs The runs: see [runs-selection]; rows of `runs_summary()`
#'   select their runs. `NULL` (the default): all.
#' @param ... Filters (`marked = TRUE`, `started = "last hour"`, ...) or
#'   terminal syntax (`"--marked"`), as in [ls_runs()].
#' @param by Flags to group by (alone), e.g. `"units"`; `NULL`: every flag
#'   but the seed.
#' @param scalars Scalars to summarize; `NULL`: all.
#' @param ci The confidence level of the intervals.
#' @return A tibble with the columns of Python's `runyard.runs_summary()`:
#'   `operation`, `flags.<name>` for the group's flags, `n`, `runs` (a list of
#'   run ids), then `scalars.<name>.mean`, `.std`, `.ci_low`, `.ci_high`,
#'   `.min`, `.max`, `.n` for each scalar.
#' @examples
#' \dontrun{
#' guild_run("train.R", flags = list(span = c(0.5, 0.75)), seeds = 5)
#' runs_summary()
#' runs_summary(by = "span", scalars = "rmse", ci = 0.9)
#' }
#' @export
runs_summary <- function(runs = NULL, by = NULL, scalars = NULL, ci = 0.95, ...) {
  if (is_summary(runs)) runs <- unlist(runs[["runs"]])  # rows of runs_summary(): their runs
  sel <- run_selectors(runs)
  if (is.null(sel)) return(summary_tibble(list()))
  args <- c("summary", sel,
            if (length(by)) c("--by", paste(by, collapse = ",")),
            as.vector(rbind(rep("--scalar", length(scalars)), as.character(scalars))),
            "--ci", format(ci, digits = 15), "--json", cli_args(...))
  if (show_help(args)) return(invisible(summary_tibble(list())))
  summary_tibble(runyard_json(args))
}

#' Is one group of runs really different from another?
#'
#' Compares a scalar between two selections of runs: their means, the
#' difference `b - a` with its Welch confidence interval, Welch's t-test and
#' the Mann-Whitney U test p-values, Hedges' g and the number of runs on each
#' side (computed by runyard with scipy.stats).
#'
#' @param a,b The two sides: filter expressions (`"flag:units=64"`), run
#'   selections (ids, indexes), or data frames — rows of [ls_runs()] (their
#'   `id`s) or of [runs_summary()] (their `runs`).
#' @param scalar The scalar to compare.
#' @param ci The confidence level of the difference's interval.
#' @param ... Filters that apply to both sides, as in [ls_runs()].
#' @return A one-row tibble: `scalar`, `a`, `b` (what each side is), `n_a`,
#'   `mean_a`, `std_a`, `n_b`, `mean_b`, `std_b`, `diff`, `ci_low`,
#'   `ci_high`, `p_welch`, `p_mannwhitney`, `hedges_g`, `ci`, `runs_a`,
#'   `runs_b` (lists of run ids).
#' @examples
#' \dontrun{
#' runs_versus("flag:span=0.5", "flag:span=0.75", "rmse")
#' ls_runs(filter = "flag:span=0.5") |> runs_versus("flag:span=0.75", "rmse")
#' }
#' @export
runs_versus <- function(a, b, scalar, ci = 0.95, ...) {
  args <- c("summary", "--versus", versus_side(a), versus_side(b), "--scalar", scalar,
            "--ci", format(ci, digits = 15), "--json", cli_args(...))
  row <- runyard_json(args)
  cols <- list()
  for (k in names(row)) {
    v <- row[[k]]
    cols[[k]] <- if (k %in% c("runs_a", "runs_b")) list(as.character(unlist(v)))
      else if (k %in% c("n_a", "n_b")) as.integer(v)
      else if (k %in% c("scalar", "a", "b")) chr_col(list(v))
      else num_value(v)
  }
  tibble::new_tibble(cols, nrow = 1L)
}

# One side of runs_versus() as the command's A or B: a filter expression, or
# run ids joined by commas.
is_summary <- function(x) is.data.frame(x) && "runs" %in% names(x) && !("id" %in% names(x))

versus_side <- function(x) {
  if (is_summary(x)) {
    x <- unlist(x[["runs"]])
  } else if (is.data.frame(x) || (is.list(x) && !is.null(names(x)))) {
    x <- run_selectors(x)
  }
  x <- as.character(unlist(x))
  if (!length(x)) stop(runyard_condition("runyard: runs_versus() needs runs on both sides"))
  paste(x, collapse = ",")
}

summary_tibble <- function(cols) {
  n <- length(cols$n)
  out <- list()
  if (!length(cols)) {
    return(tibble::new_tibble(list(operation = character(), n = integer(), runs = list()), nrow = 0L))
  }
  for (k in names(cols)) {
    v <- cols[[k]]
    out[[k]] <- if (k == "runs") lapply(v, function(ids) as.character(unlist(ids)))
      else if (k == "operation") chr_col(v)
      else if (k == "n" || grepl("^scalars\\..*\\.n$", k)) int_col(v)
      else if (startsWith(k, "flags.")) flag_col(v)
      else dbl_col(v)
  }
  tibble::new_tibble(out, nrow = n)
}
