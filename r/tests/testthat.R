library(testthat)
library(runyard)

test_check("runyard")
