# I("...") passes several command-line arguments in one string, split as a shell would.

test_that("I() strings split like a shell: quotes anywhere in a word, escapes, no empty words", {
  split <- runyard:::shell_words
  expect_identical(split("msg='a b' x=1"), c("msg=a b", "x=1"))
  expect_identical(split("  a\t\"b c\"d  'e'\\ f  "), c("a", "b cd", "e f"))
  expect_identical(split("x=\"say \\\"hi\\\"\" y=''"), c("x=say \"hi\"", "y="))
  expect_identical(split(""), character())
  expect_error(split("msg='a b"), "unclosed '")
})

test_that("guild_run(\"train.R\", I(\"msg='a b' x=1\")) gives msg one value with a space", {
  project <- local_project()
  writeLines(c("msg <- \"hi\"", "x <- 0", "cat(\"msg is\", msg, \"\\n\")"), "say.R")
  out <- capture.output(id <- guild_run("say.R", I("msg='a b' x=1")))
  expect_true("msg is a b " %in% out)
  run <- ls_runs(id)
  expect_equal(run$flags$msg, "a b")
  expect_equal(run$flags$x, 1)
})
