Feature: A switch says what it is doing while it does it
  One line on stderr as each step starts and as it ends, with the time it took and its
  bound; the outcome last. `--quiet` keeps stderr for errors only.

  Background:
    Given a fresh simulated workstation for the mode command

  Scenario: Progress lines of a switch to compute
    When I run "mode request compute"
    Then it exits with code 0
    And stderr has a start and an end line for each of the 11 steps
    And a step end line says "of 90 s: compute.target active"
    And the last stderr line starts with "mode: converged after"

  Scenario: A failed step is marked, and the rollback's steps follow
    Given the simulated workstation has one GPU
    And the simulated world's display GPU never releases its memory
    When I run "mode request compute"
    Then it exits with code 21
    And a step end line says "FAILED in 30.0 s of 30 s: display GPU not released"
    And the last stderr line starts with "mode: rolled-back after"

  Scenario: Quiet
    When I run "mode request studio-local --quiet"
    Then it exits with code 0
    And stderr is empty
