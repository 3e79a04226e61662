Feature: A grace period before the GUI goes, which the owner can cancel
  After the guards pass, a switch to compute tells the desktop session it will end, counts
  down (30 s by default) and only then ends it. `mode cancel` from any terminal during the
  grace period ends the attempt there: the host is untouched, desired goes back, and the
  attempt is recorded as cancelled.

  Background:
    Given a fresh simulated workstation for the mode command

  Scenario: The owner cancels during the grace period
    When the owner runs "mode request compute --yes" and, during the grace period, "mode cancel"
    Then the cancel command exits with code 0 saying "cancel requested for the switch to compute"
    And it exits with code 27
    And the last transition record says "cancelled" with "nothing was changed"
    And I run "mode current"
    And it prints "desktop"
    And I run "mode desired"
    And it prints "desktop"

  Scenario: Nothing to cancel
    When I run "mode cancel"
    Then it exits with code 0
    And it prints one line mentioning "nothing to cancel: no transition is running"

  Scenario: The countdown is shown to the desktop session
    When I run "mode request compute"
    Then it exits with code 0
    And a step end line says "no cancel within 30 s; 2 countdown notification(s)"
