Feature: Transitions that survive their controller
  A switch runs for seconds on the simulator and for minutes on the workstation. Whatever
  happens to the `mode` process meanwhile, the host ends in an observed mode, no record claims
  more than the host shows, and the next request finishes the job (issue 10). Each step of
  each transition T1-T5 is a moment the controller can die or be stopped.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario Outline: Killed before step <step> of <leg>, then the next request recovers
    Given the workstation is in <from>
    And the controller will be killed before step <step> of its next switch
    When the owner requests <to> and the controller dies
    Then `mode current` is honest about the world
    And the dead attempt's journal names step <step>
    When the owner requests <to>
    Then the request ends in <to> with exit code 0
    And the dead attempt has an "abandoned" record with what its recovery found and did
    And the lock is free and no journal is left
    And the slice settings are those a switch from <from> to <to> leaves

    Examples:
      | leg  | from         | to           | step |
      | T1   | desktop      | studio-local |    1 |
      | T1   | desktop      | studio-local |    2 |
      | T1   | desktop      | studio-local |    3 |
      | T1   | desktop      | studio-local |    4 |
      | T1   | desktop      | studio-local |    5 |
      | T1   | desktop      | studio-local |    6 |
      | T1   | desktop      | studio-local |    7 |
      | T2   | studio-local | desktop      |    1 |
      | T2   | studio-local | desktop      |    2 |
      | T2   | studio-local | desktop      |    3 |
      | T2   | studio-local | desktop      |    4 |
      | T2   | studio-local | desktop      |    5 |
      | T3   | desktop      | compute      |    1 |
      | T3   | desktop      | compute      |    2 |
      | T3   | desktop      | compute      |    3 |
      | T3   | desktop      | compute      |    4 |
      | T3   | desktop      | compute      |    5 |
      | T3   | desktop      | compute      |    6 |
      | T3   | desktop      | compute      |    7 |
      | T3   | desktop      | compute      |    8 |
      | T3   | desktop      | compute      |    9 |
      | T4   | compute      | desktop      |    1 |
      | T4   | compute      | desktop      |    2 |
      | T4   | compute      | desktop      |    3 |
      | T4   | compute      | desktop      |    4 |
      | T4   | compute      | desktop      |    5 |
      | T4   | compute      | desktop      |    6 |
      | T4   | compute      | desktop      |    7 |
      | T4   | compute      | desktop      |    8 |
      | T4   | compute      | desktop      |    9 |
      | T5   | studio-local | compute      |    1 |
      | T5   | studio-local | compute      |    2 |
      | T5   | studio-local | compute      |    3 |
      | T5   | studio-local | compute      |    4 |
      | T5   | studio-local | compute      |    5 |
      | T5   | studio-local | compute      |    6 |
      | T5   | studio-local | compute      |    7 |
      | T5   | studio-local | compute      |    8 |
      | T5   | studio-local | compute      |    9 |
      | T5   | studio-local | compute      |   10 |
      | T5   | studio-local | compute      |   11 |
      | T5   | studio-local | compute      |   12 |
      | T5   | studio-local | compute      |   13 |
      | T5   | studio-local | compute      |   14 |

  Scenario Outline: Ctrl-C before step <step> of <leg> rolls back to a safe mode
    Given the workstation is in <from>
    When the owner requests <to> and presses Ctrl-C before step <step>
    Then the request ends "interrupted" with exit code 28
    And the observed state is "<back>"
    And the record says it was stopped by SIGINT
    And the lock is free and no journal is left
    And the slice settings are those a switch from <from> to <back> leaves

    Examples:
      | leg  | from         | to           | step | back         |
      | T1   | desktop      | studio-local |    1 | desktop      |
      | T1   | desktop      | studio-local |    2 | desktop      |
      | T1   | desktop      | studio-local |    3 | desktop      |
      | T1   | desktop      | studio-local |    4 | desktop      |
      | T1   | desktop      | studio-local |    5 | desktop      |
      | T1   | desktop      | studio-local |    6 | desktop      |
      | T1   | desktop      | studio-local |    7 | desktop      |
      | T2   | studio-local | desktop      |    1 | studio-local |
      | T2   | studio-local | desktop      |    2 | studio-local |
      | T2   | studio-local | desktop      |    3 | studio-local |
      | T2   | studio-local | desktop      |    4 | studio-local |
      | T2   | studio-local | desktop      |    5 | studio-local |
      | T3   | desktop      | compute      |    1 | desktop      |
      | T3   | desktop      | compute      |    2 | desktop      |
      | T3   | desktop      | compute      |    3 | desktop      |
      | T3   | desktop      | compute      |    4 | desktop      |
      | T3   | desktop      | compute      |    5 | desktop      |
      | T3   | desktop      | compute      |    6 | desktop      |
      | T3   | desktop      | compute      |    7 | desktop      |
      | T3   | desktop      | compute      |    8 | desktop      |
      | T3   | desktop      | compute      |    9 | desktop      |
      | T4   | compute      | desktop      |    1 | compute      |
      | T4   | compute      | desktop      |    2 | compute      |
      | T4   | compute      | desktop      |    3 | desktop      |
      | T4   | compute      | desktop      |    4 | desktop      |
      | T4   | compute      | desktop      |    5 | desktop      |
      | T4   | compute      | desktop      |    6 | desktop      |
      | T4   | compute      | desktop      |    7 | desktop      |
      | T4   | compute      | desktop      |    8 | desktop      |
      | T4   | compute      | desktop      |    9 | desktop      |
      | T5   | studio-local | compute      |    1 | studio-local |
      | T5   | studio-local | compute      |    2 | studio-local |
      | T5   | studio-local | compute      |    3 | studio-local |
      | T5   | studio-local | compute      |    4 | studio-local |
      | T5   | studio-local | compute      |    5 | studio-local |
      | T5   | studio-local | compute      |    6 | studio-local |
      | T5   | studio-local | compute      |    7 | studio-local |
      | T5   | studio-local | compute      |    8 | studio-local |
      | T5   | studio-local | compute      |    9 | studio-local |
      | T5   | studio-local | compute      |   10 | studio-local |
      | T5   | studio-local | compute      |   11 | studio-local |
      | T5   | studio-local | compute      |   12 | studio-local |
      | T5   | studio-local | compute      |   13 | studio-local |
      | T5   | studio-local | compute      |   14 | studio-local |

  Scenario: An isolate that times out but takes effect is not a failure
    Given isolate calls time out 3 times although they take effect
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And the record notes "its effect is observed in place, not redone"
    And the observed state is "compute"

  Scenario: A slice changed by someone else during studio-local is reported at its exit
    Given the owner has switched to studio-local
    And someone sets the CPU weight of interactive.slice to 4321
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And the record reports interactive.slice cpu_weight changed externally to 4321
    And the slice settings are those a switch from desktop to desktop leaves

  Scenario: Killed before restoring the slices, the saved values come back exactly
    Given the owner has switched to studio-local
    And the controller will be killed before step 4 of its next switch
    When the owner requests desktop and the controller dies
    And the owner requests desktop
    Then the request ends in desktop with exit code 0
    And the slice settings are those a switch from desktop to desktop leaves
