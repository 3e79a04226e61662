Feature: A mode is its contract, as the owner would check it
  Two unit states are not a mode. A desktop needs its display manager and a live graphical
  session; when one is missing, `mode current` names the term, and asking for desktop
  repairs it. A failed way back from compute never goes back to compute.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario: A controller died after stopping the display manager: not desktop, and repaired
    Given the display manager was stopped behind the controller's back
    Then the observed state is "degraded-desktop"
    And the missing terms are "display_manager_active, graphical_session_alive"
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And the observed state is "desktop"
    And a graphical session is back

  Scenario: The display manager fails to start: the way back from compute ends degraded-desktop
    Given the owner has switched to compute
    And the display manager fails to start
    When the owner requests desktop
    Then the request ends "degraded" with exit code 23
    And the observed state is "degraded-desktop"
    And the missing terms are "display_manager_active, graphical_session_alive"
    And the reason mentions "remedy:"
    And the console says "desktop not restored: display_manager_active fail"
    And vLLM is stopped
    And the failure was not undone toward compute

  Scenario: A session stuck closing with its compositor alive keeps vLLM off the display GPU
    Given the desktop session will be stuck closing
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the reason mentions "session 1 of owner (wayland, closing"
    And vLLM never held memory on GPU 0
