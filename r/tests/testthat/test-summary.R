# Seeds, groups and the tests between them (issue 24): guild_run(seeds =),
# runs_summary() and runs_versus(), checked against R's own t.test() and
# wilcox.test().

seeded_script <- function() {
  writeLines(c(
    "span <- 0.5",
    "seed <- 1",
    "set.seed(seed)",
    "cat(\"rmse:\", 10 + span * 4 + rnorm(1, sd = 0.5 + span), \"\\n\")"
  ), "seeded.R")
}

test_that("guild_run(seeds =) runs each setting once per seed; runs_summary() groups them", {
  project <- local_project()
  seeded_script()
  ids <- quietly(guild_run("seeded.R", flags = list(span = c(0.5, 0.75)), seeds = 4, echo = FALSE))
  expect_length(ids, 8L)
  runs <- ls_runs()
  expect_equal(sort(unique(runs$flags$seed)), sort(unique(runs$flags$seed[runs$flags$span == 0.5])))
  expect_length(unique(runs$flags$seed), 4L)

  s <- runs_summary()
  expect_s3_class(s, "tbl_df")
  expect_equal(names(s), c("operation", "flags.span", "n", "runs", "scalars.rmse.mean", "scalars.rmse.std",
                           "scalars.rmse.ci_low", "scalars.rmse.ci_high", "scalars.rmse.min",
                           "scalars.rmse.max", "scalars.rmse.n"))
  expect_equal(s$flags.span, c(0.5, 0.75))
  expect_equal(s$n, c(4L, 4L))
  rmse <- function(span) {
    sel <- runs$flags$span == span
    vapply(runs$scalars[sel], function(x) x$last_val[x$tag == "rmse"], 0)
  }
  x <- rmse(0.5)
  tt <- t.test(x)
  expect_equal(s$scalars.rmse.mean[1], mean(x), tolerance = 1e-9)
  expect_equal(s$scalars.rmse.std[1], sd(x), tolerance = 1e-9)
  expect_equal(c(s$scalars.rmse.ci_low[1], s$scalars.rmse.ci_high[1]), as.numeric(tt$conf.int), tolerance = 1e-9)
  expect_setequal(s$runs[[1]], runs$id[runs$flags$span == 0.5])

  # pipeable with ls_runs(); by =, scalars =, ci =
  one <- ls_runs(filter = "flag:span=0.5") |> runs_summary(by = "span", scalars = "rmse", ci = 0.9)
  expect_equal(nrow(one), 1L)
  expect_equal(c(one$scalars.rmse.ci_low, one$scalars.rmse.ci_high),
               as.numeric(t.test(x, conf.level = 0.9)$conf.int), tolerance = 1e-9)

  again <- runs_summary(s[2, ])  # rows of a summary select their runs
  expect_equal(again$n, 4L)
  expect_equal(again$flags.span, 0.75)

  # the test between the two settings, as R computes it
  y <- rmse(0.75)
  v <- runs_versus("flag:span=0.5", "flag:span=0.75", "rmse")
  expect_equal(nrow(v), 1L)
  expect_equal(c(v$a, v$b, v$scalar), c("0.5", "0.75", "rmse"))
  expect_equal(c(v$n_a, v$n_b), c(4L, 4L))
  welch <- t.test(y, x)
  expect_equal(v$diff, mean(y) - mean(x), tolerance = 1e-9)
  expect_equal(v$p_welch, welch$p.value, tolerance = 1e-9)
  expect_equal(c(v$ci_low, v$ci_high), as.numeric(welch$conf.int), tolerance = 1e-9)
  expect_equal(v$p_mannwhitney, wilcox.test(y, x)$p.value, tolerance = 1e-9)
  expect_setequal(v$runs_b[[1]], runs$id[runs$flags$span == 0.75])
  # sides as data frames: ls_runs() rows, runs_summary() rows
  v2 <- ls_runs(filter = "flag:span=0.5") |> runs_versus(s[2, ], "rmse")
  expect_equal(v2$p_welch, v$p_welch, tolerance = 1e-12)
})

test_that("a script without a seed flag gets one line saying how to declare it", {
  project <- local_project()
  err <- tryCatch(quietly(guild_run("train.R", seeds = 3, echo = FALSE)), error = function(e) conditionMessage(e))
  expect_match(err, "seed-flag: NAME")
  expect_equal(nrow(ls_runs()), 0L)
})
