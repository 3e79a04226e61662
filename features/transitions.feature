Feature: Switching modes
  The workstation runs as a quiet desktop, a low-latency studio, or a headless compute node.
  Every switch is checked first, done step by step, and only called a success when the
  machine is seen to be in the new mode.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario: Desktop to studio-local (T1)
    When the owner requests studio-local
    Then the request ends "converged" with exit code 0
    And the observed state is "studio-local"
    And the studio overlay services are running
    And the interactive slice has CPU weight 1000

  Scenario: Studio-local back to desktop (T2)
    Given the owner has switched to studio-local
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And the observed state is "desktop"
    And the studio overlay services are stopped

  Scenario: Desktop to compute (T3)
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And the observed state is "compute"
    And no graphical session is left
    And vLLM is running on GPUs 0 and 1
    And the owner was warned before the desktop ended

  Scenario: Compute back to desktop (T4)
    Given the owner has switched to compute
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And the observed state is "desktop"
    And vLLM is stopped
    And a graphical session is back

  Scenario: Studio-local to compute goes through desktop (T5)
    Given the owner has switched to studio-local
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And the transition ran the legs "T2, T3"
    And the observed state is "compute"

  Scenario: Compute to studio-local goes through desktop
    Given the owner has switched to compute
    When the owner requests studio-local
    Then the request ends "converged" with exit code 0
    And the transition ran the legs "T4, T1"
    And the observed state is "studio-local"

  Scenario: Asking again for the mode the machine is in changes nothing
    Given the owner has switched to compute
    When the owner requests compute
    Then the request ends "already-converged" with exit code 0
    And the transition ran no steps
    And every request so far has exactly one audit record

  Scenario: A single-GPU workstation reaches compute on its only GPU
    Given a simulated workstation with 1 GPU, booted to desktop
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And vLLM is running on GPU 0 only
