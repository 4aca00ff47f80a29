# The seed README's "Scalars" and "Using Flags and Scalars Together".

test_that("ls_runs()$scalars holds one summary tibble per run; ls_scalars() the values", {
  project <- local_project()
  x <- local_seed_output()
  first <- quietly(guild_run("train.R"))
  second <- quietly(guild_run("train.R", flags = list(span = 1.5)))
  runs <- ls_runs()
  sel <- runs %>% select(id, scalars)
  out <- capture.output(print(sel, width = 80))
  expect_equal(out[1:3], c(paste("# A tibble: 2", x, "2"),
                           "  id                               scalars          ",
                           "  <chr>                            <list>           "))
  expect_equal(out[4], paste0("1 ", second, " <tibble [2 ", x, " 14]>"))

  out <- capture.output(glimpse(runs$scalars[[1]]))
  expect_equal(out[1:2], c("Rows: 2", "Columns: 14"))
  expect_equal(sub(" .*", "", sub("^\\$ ", "", out[-(1:2)])),
               c("run", "path", "tag", "first_val", "first_step", "last_val", "last_step", "min_val",
                 "min_step", "max_val", "max_step", "avg_val", "total", "count"))
  expect_match(out[4], '^\\$ path +<chr> "\\.guild", "\\.guild"$')
  expect_match(out[5], '^\\$ tag +<chr> "mse", "rmse"$')
  expect_match(out[7], "^\\$ first_step +<int> 0, 0$")
  expect_match(out[16], "^\\$ count +<int> 1, 1$")
  s <- runs$scalars[[2]]
  expect_equal(s$run, c(first, first))
  expect_equal(s$last_val[s$tag == "rmse"], 14.3970247057306, tolerance = 1e-12)

  scalars <- ls_scalars()
  expect_equal(names(scalars), c("run", "path", "tag", "value", "step"))
  expect_equal(nrow(scalars), 4L)
  expect_equal(scalars$run, c(second, second, first, first))
  expect_equal(scalars$path, rep(".guild", 4))
  expect_equal(scalars$tag, c("mse", "rmse", "mse", "rmse"))
  expect_type(scalars$value, "double")
  expect_type(scalars$step, "double")
  expect_equal(scalars$step, c(0, 0, 0, 0))
  out <- capture.output(print(scalars, width = 80))
  expect_equal(out[1:3], c(paste("# A tibble: 4", x, "5"),
                           "  run                              path   tag   value  step",
                           "  <chr>                            <chr>  <chr> <dbl> <dbl>"))
  expect_equal(out[6], paste0("3 ", first, " .guild mse   207.      0"))
  expect_equal(out[7], paste0("4 ", first, " .guild rmse   14.4     0"))
  expect_identical(ls_scalars(first), scalars[3:4, ])
  expect_identical(runs_scalars, ls_scalars)
  expect_identical(runs_info, ls_runs)
})

test_that("using flags and scalars together: a 14-run grid, then one row per run", {
  skip_if_not_installed("tidyr")
  project <- local_project()
  x <- local_seed_output()
  # The seed's units grid, scaled into train.R's span range [0.3, 3].
  span <- ((2 ^ (4:11)) %>% c(diff(., 2)) %>% sort()) / 1024 + 0.3
  expect_equal(span * 1024 - 0.3 * 1024, c(16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048))
  out <- capture.output(
    runyard::guild_run("train.R",
                       flags = list(span = span),
                       echo = FALSE)
  )
  expect_false(any(grepl("^> ", out)))  # echo = FALSE: none of the run's output

  runs <- ls_runs(as.character(seq_along(span)))
  expect_equal(nrow(runs), 14L)
  df <- runs %>%
    select(flags, scalars) %>%
    rowwise() %>%
    mutate(across(scalars, function(run_scalars_df) {
      run_scalars_df %>%
        select(tag, last_val) %>%
        tidyr::pivot_wider(names_from = tag,
                           values_from = last_val)
    })) %>%
    tidyr::unnest(c(flags, scalars)) %>%
    arrange(span)
  expect_equal(names(df), c("family", "span", "mse", "rmse"))
  expect_equal(nrow(df), 14L)
  expect_equal(df$span, span)
  expect_equal(df$rmse, sqrt(df$mse))
  expect_equal(df$family, rep("gaussian", 14))
  out <- capture.output(print(df, width = 80))
  expect_equal(out[1:3], c(paste("# A tibble: 14", x, "4"),
                           "   family    span   mse  rmse",
                           "   <chr>    <dbl> <dbl> <dbl>"))
  # The seed's plot of a scalar against a flag, as written there (train.R's span and rmse).
  skip_if_not_installed("ggplot2")
  library(ggplot2)
  p <- ggplot(df, aes(x = span, y = rmse)) +
    geom_point() + geom_smooth()
  png_file <- tempfile(fileext = ".png")
  suppressMessages(ggsave(png_file, p, width = 6, height = 4))
  expect_gt(file.size(png_file), 10000)
  expect_equal(nrow(ggplot_build(p)$data[[1]]), 14L)  # one point per run
})
