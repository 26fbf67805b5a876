DROP TRIGGER invoices_claim_number ON invoices;
DROP FUNCTION claim_document_number();
DROP TABLE document_numbers;
DROP FUNCTION set_next_document_sequence(text, integer, bigint);
DROP FUNCTION take_document_sequence(text, integer);
DROP FUNCTION scoped_account();
DROP TABLE number_sequences;
