"""Patient-level risk reporting: BCRAT (Gail) absolute risk and the inputs other risk models need."""
