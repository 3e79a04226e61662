Feature: The observer tells the truth
  `mode current` derives the mode from what the machine is doing, never from what was asked
  for. When the evidence is mixed, it says so.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario: Someone starts vLLM by hand on the desktop
    When vLLM is started by hand
    Then the observed state is not a mode
    And the conflicts mention "active outside compute"

  Scenario: The desired mode alone does not make a mode
    Given the desired file says "compute"
    Then the observed state is "desktop"

  Scenario: The unit manager cannot be reached
    Given the unit states cannot be read because "system bus: connection refused"
    Then the observed state is "unknown"
    And the confidence is "low"

  Scenario: The GPUs cannot be read on a compute host
    Given the owner has switched to compute
    And the GPUs cannot be read because "NVML: library not found"
    Then the observed state is "unknown"
    And the conflicts mention "cannot be verified"

  Scenario: Studio services running without their slice weights are not studio-local
    Given the studio overlay services were started by hand
    Then the observed state is "degraded-desktop"
