"""What two or more labs really share: data lookup, result records, sweeps, plots, reports."""
