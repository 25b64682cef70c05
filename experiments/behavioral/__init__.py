"""The five behavioral experiments (and users' own): definitions, assignment, tests, verdicts.

    simulacra experiment list [--json]              # built-in studies + $SIMULACRA_HOME/studies/*.yaml
    simulacra experiment validate my_study.yaml     # errors name file, line and field
    simulacra experiment run all --agents BANK --seed 1 [--run-id ID] [--json]   # the same command resumes
    simulacra experiment report RUN [RUN...] [--out report.html] [--json]
    simulacra report RUN / simulacra compare RUN_A RUN_B   # experiment runs open there too (run folder kind)

A study is a YAML file (see `studies/schilke_2015.yaml` for a complete one):

    id: my_study                   # lower-case; the file is my_study.yaml
    title: ..., citation: ..., description: ...
    factors:                       # one or two; every combination of levels is a condition
      - id: power
        label: ...
        levels: [{id: high_power, label: ..., text: "fills {power} in stimuli"}, {id: low_power, ...}]
    steps:                         # shown in order; later steps see earlier stimuli and own answers
      - id: sample
        stimulus: "... {power} ..."
        questions: [<surveys Question: id, text, kind categorical|ordinal|numeric|open, options/min/max>]
    analysis:
      test: chi_square | t_test | anova_interaction
      outcome: {step: sample, question: free_sample}
      factor: power, higher: low_power, lower: high_power   # chi_square and t_test
      event: ["yes"]                                        # chi_square: option codes counted
      contrast: {a1+b1: 1, a1+b2: -1, a2+b1: -1, a2+b2: 1}  # anova_interaction: expected-positive contrast
      hypothesis: ...
    published: {d: 0.33, p: "< 0.001", significant: true, replicated: true}   # optional human result
    reconstructed: [...]           # what was written from descriptions rather than original materials

Modules: `definition` (schema, loading), `assignment` (seeded balanced assignment),
`runner` (run/resume through experiments.runs: the same run folder and store as batches), `stats` (tests and d conversions), `analysis` (verdicts), `report`.
"""
