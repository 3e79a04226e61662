Feature: Before the graphical session goes, the owner at the terminal is asked
  A switch to compute ends the graphical session and everything open in it. Typed at a
  terminal, `mode request compute` first lists what will close and asks; `--yes` skips the
  question; scripts, units and anything without a terminal are never asked.

  Background:
    Given a fresh simulated workstation for the mode command

  Scenario: The owner says yes
    When the owner runs "mode request compute" in a terminal and answers "y"
    Then the terminal showed "This switch ends the graphical session:"
    And the terminal showed "Switch to compute now? [y/N]"
    And it exits with code 0
    And I run "mode current"
    And it prints "compute"

  Scenario: The owner says no, and nothing changes
    When the owner runs "mode request compute" in a terminal and answers "n"
    Then it exits with code 27
    And the terminal showed "not switched: you said no; nothing was changed"
    And I run "mode current"
    And it prints "desktop"
    And I run "mode desired"
    And it prints "none (no request since boot)"

  Scenario: --yes skips the question
    When the owner runs "mode request compute --yes" in a terminal
    Then nothing asked a question
    And it exits with code 0

  Scenario: Without a terminal nobody is asked
    When I run "mode request compute"
    Then nothing asked a question
    And it exits with code 0

  Scenario: A switch that keeps the session asks nothing
    When the owner runs "mode request studio-local" in a terminal
    Then nothing asked a question
    And it exits with code 0
