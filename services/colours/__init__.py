"""The colour a health code shows and how it changes: the engine that evaluates the rules set-wise
and keeps each person's colour with its history (colour); the rules as data, their checks and the
SQL each becomes (colour_rules); the 3- or 4-colour scheme (colour_scheme); each reason of a
colour with its source and what lifts it (colour_reasons); changes of rules and scheme from the
back office (rule_changes); the second account's approval every correction needs (approvals);
the corrections themselves, from a withdrawn list entry to a manual override (corrections);
citizens' appeals against their colour with their queue and deadline (appeals); and what the
officials' page on one person's colour shows of them (person_colour)."""
