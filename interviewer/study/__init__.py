"""Studies: an interview, then surveys in the browser, then the retest (see `interviewer/study/README.md`)."""
