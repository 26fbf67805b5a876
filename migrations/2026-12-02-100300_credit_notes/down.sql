DROP TABLE credit_note_taxes;
DROP TABLE credit_note_lines;
DROP TABLE credit_notes;
DELETE FROM id_counters WHERE table_name IN ('credit_notes', 'credit_note_lines');
DELETE FROM document_numbers WHERE kind = 'credit_note';
