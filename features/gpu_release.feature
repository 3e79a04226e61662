Feature: The display GPU must be seen to be released
  NVIDIA drivers do not always give the display GPU's memory back when the desktop ends.
  Compute mode is only reported when the release is verified; otherwise the desktop comes
  back, or, on a two-GPU machine with a small residual, vLLM runs on the other GPU only.

  Scenario: Memory released a few seconds late, within the bound
    Given a simulated workstation with 2 GPUs, booted to desktop
    And GPU 0 releases its memory 8 seconds after the desktop ends
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And the observed state is "compute"

  Scenario: Memory never released: the desktop is restored and the failure recorded
    Given a simulated workstation with 2 GPUs, booted to desktop
    And the desktop holds 1500 MiB on GPU 0
    And GPU 0 never releases its memory
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the observed state is "desktop"
    And a graphical session is back
    And the record says the display GPU was not released
    And at no point was the observed state "compute"

  Scenario: A small residual on a two-GPU machine gives degraded compute
    Given a simulated workstation with 2 GPUs, booted to desktop
    And GPU 0 keeps a residual of 600 MiB after the desktop ends
    When the owner requests compute
    Then the request ends "degraded" with exit code 23
    And the observed state is "degraded-compute"
    And vLLM is running on GPU 1 only

  Scenario: A residual on a one-GPU machine cannot be worked around
    Given a simulated workstation with 1 GPU, booted to desktop
    And GPU 0 keeps a residual of 600 MiB after the desktop ends
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the observed state is "desktop"

  Scenario: vLLM running out of memory undoes the switch
    Given a simulated workstation with 2 GPUs, booted to desktop
    And vLLM needs 30000 MiB on each GPU
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the observed state is "desktop"
    And vLLM is stopped
