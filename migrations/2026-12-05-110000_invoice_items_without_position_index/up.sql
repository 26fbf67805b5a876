-- An invoice's lines are found through invoice_items_invoice_id_id_unique
-- (account_id, invoice_id, id), which the credit notes' foreign key needs
-- anyway; at most 500 lines per invoice are then put in position order in
-- memory, which costs nothing measurable. The index on (account_id,
-- invoice_id, position, id) bought no query anything, yet every line
-- written paid to maintain it, and every move of lines (a change of
-- position) could not be a HOT update because position was indexed. The
-- importer also built it after each large load: a sixth of the time it
-- spends on keys and indexes.
DROP INDEX invoice_items_invoice_idx;
