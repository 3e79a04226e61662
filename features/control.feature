Feature: One transition at a time, restored exactly, normalised at boot
  A lock makes sure only one switch runs at a time; leaving the studio puts back exactly the
  resource settings that were there before; a reboot always comes back to desktop.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario: A second request while one is running is refused
    Given another controller holds the lock
    When the owner requests compute
    Then the request ends "lock-busy" with exit code 5
    And the observed state is "transitioning"
    And a graphical session is still there
    And the audit log has a "lock-busy" record

  Scenario: A lock left by a killed controller is recovered
    Given a controller was killed while holding the lock
    When the owner requests studio-local
    Then the request ends "converged" with exit code 0
    And the record says the lock was recovered
    And the audit log has an "abandoned" record

  Scenario: Leaving studio-local restores the exact slice weights it found
    Given someone set the ai slice CPU weight to 333
    And the owner has switched to studio-local
    When the owner requests desktop
    Then the ai slice has CPU weight 333

  Scenario: A reboot forgets the desired mode and comes back to desktop
    Given the owner has switched to compute
    When the workstation reboots
    And the boot normalisation runs
    Then the request ends "already-converged" with exit code 0
    And the desired mode is "desktop"
    And the observed state is "desktop"

  Scenario: Boot normalisation brings a machine that came up headless back to desktop
    Given the workstation came up with "compute.target" as its boot target
    When the boot normalisation runs
    Then the request ends "converged" with exit code 0
    And the desired mode is "desktop"
    And the observed state is "desktop"
    And a graphical session is back
