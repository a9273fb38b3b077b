//! A plot's y axis: a linear one from zero to a round number, or a logarithmic one over
//! whole decades, with tick values and labels.

/// A fitted y axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    low: f64,
    high: f64,
    log: bool,
    /// Linear: the distance between ticks.
    step: f64,
}

impl Axis {
    /// An axis that holds every value (a logarithmic one only the positive ones).
    pub fn fit(values: &[f64], log: bool) -> Self {
        if log {
            let positive = values.iter().copied().filter(|v| *v > 0.0);
            let low = positive.clone().fold(f64::INFINITY, f64::min);
            let high = positive.fold(0.0, f64::max);
            if !low.is_finite() || high <= 0.0 {
                return Self {
                    low: 1.0,
                    high: 10.0,
                    log,
                    step: 0.0,
                };
            }
            let low = 10f64.powf(low.log10().floor());
            let mut high = 10f64.powf(high.log10().ceil());
            if high <= low {
                high = low * 10.0;
            }
            return Self {
                low,
                high,
                log,
                step: 0.0,
            };
        }
        let max = values.iter().copied().fold(0.0, f64::max);
        if max <= 0.0 {
            return Self {
                low: 0.0,
                high: 1.0,
                log,
                step: 0.2,
            };
        }
        let step = round_step(max / 5.0);
        Self {
            low: 0.0,
            high: (max / step).ceil() * step,
            log,
            step,
        }
    }

    /// Where `value` sits, from 0 (bottom) to 1 (top).
    pub fn fraction(&self, value: f64) -> f64 {
        let f = if self.log {
            (value.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
        } else {
            (value - self.low) / (self.high - self.low)
        };
        f.clamp(0.0, 1.0)
    }

    /// Tick values and their labels: every step, or 1, 2 and 5 of each decade.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        let mut ticks = Vec::new();
        if self.log {
            let mut decade = self.low;
            // Bounded: at most a few dozen decades lie between two finite numbers.
            while decade <= self.high * 1.0001 && ticks.len() < 100 {
                for m in [1.0, 2.0, 5.0] {
                    let v = decade * m;
                    if v <= self.high * 1.0001 {
                        ticks.push((v, label(v)));
                    }
                }
                decade *= 10.0;
            }
        } else {
            let mut v = self.low;
            while v <= self.high + self.step * 0.001 && ticks.len() < 100 {
                ticks.push((v, label(v)));
                v += self.step;
            }
        }
        ticks
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn round_step(raw: f64) -> f64 {
    let decade = 10f64.powf(raw.log10().floor());
    let mantissa = raw / decade;
    let round = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| mantissa <= *m)
        .unwrap_or(10.0);
    round * decade
}

fn label(v: f64) -> String {
    if v >= 1.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        let digits = (-v.log10().floor()) as usize;
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_axis_runs_from_zero_to_a_round_number() {
        let axis = Axis::fit(&[130.0, 2_340.0], false);
        let labels: Vec<String> = axis.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0", "500", "1000", "1500", "2000", "2500"]);
        assert_eq!(axis.fraction(1_250.0), 0.5);
    }

    #[test]
    fn a_log_axis_covers_whole_decades_with_1_2_5_ticks() {
        let axis = Axis::fit(&[0.8, 42.0], true);
        let labels: Vec<String> = axis.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(
            labels,
            ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "50", "100"]
        );
        assert!((axis.fraction(10.0) - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn an_empty_axis_still_draws() {
        assert_eq!(Axis::fit(&[], false).ticks().len(), 6);
        assert_eq!(Axis::fit(&[], true).ticks().len(), 4);
    }
}
