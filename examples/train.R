# Fit a loess model to R's built-in `cars` data (stopping distance vs speed).
#
#   runyard run train.R
#   runyard run train.R span=1.5 family=symmetric
#   runyard run train.R span=[0.5,0.75] family=[gaussian,symmetric]

# Smoothing parameter of the loess fit: larger is smoother.
#| {min: .3, max: 3}
span <- .75

# Fitting family: gaussian is least squares, symmetric is robust to outliers.
#| choices: [gaussian, symmetric]
family <- "gaussian"

model <- loess(dist ~ speed, data = cars, span = span, family = family)

plot(dist ~ speed, data = cars)
lines(x = 3:30, y = predict(model, 3:30), col = "blue")

mse <- mean(residuals(model)^2)
rmse <- sqrt(mse)

cat("mse:", mse, "\n")
cat("rmse:", rmse, "\n")
