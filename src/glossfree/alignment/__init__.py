"""Sign-subtitle alignment (SSA, paper 004): subtitle files, metrics, DTW post-processing, windows."""
