-- An issued invoice never changes, and its status always agrees with its
-- money: the service checks both before it writes, and these triggers make
-- the database refuse anything else, whoever sends it (an SQL injection
-- through the app role included).
--
-- invoice_total is an invoice's total as the API computes it: the line
-- subtotals plus the tax, per line (`line` rounding) or per breakdown
-- entry (`document`: round(Σ subtotals × rate / 100) per category and rate).
CREATE FUNCTION invoice_total(p_account text, p_invoice bigint, p_rounding text) RETURNS numeric
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(sum(g.subtotal + CASE WHEN p_rounding = 'document'
                                          THEN round(g.subtotal * g.rate / 100, 2)
                                          ELSE g.tax END), 0)
    FROM (SELECT sum(subtotal) AS subtotal, sum(tax) AS tax, tax_rate AS rate
          FROM invoice_items WHERE account_id = p_account AND invoice_id = p_invoice
          GROUP BY tax_category, tax_rate) g
$$;

-- What has been paid and credited on an invoice.
CREATE FUNCTION invoice_settled(p_account text, p_invoice bigint, OUT paid numeric, OUT credited numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT (SELECT coalesce(sum(amount), 0) FROM payments
            WHERE account_id = p_account AND invoice_id = p_invoice),
           (SELECT coalesce(sum(taxable_amount + tax_amount), 0) FROM credit_note_taxes
            WHERE account_id = p_account AND invoice_id = p_invoice)
$$;

CREATE FUNCTION guard_invoice() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    total numeric;
    settled record;
BEGIN
    IF OLD.status <> 'draft'
       AND (NEW.customer_id, NEW.number, NEW.currency, NEW.issue_date, NEW.due_date, NEW.notes,
            NEW.tax_rounding, NEW.service_date, NEW.service_period_start, NEW.service_period_end,
            NEW.seller, NEW.buyer)
           IS DISTINCT FROM
           (OLD.customer_id, OLD.number, OLD.currency, OLD.issue_date, OLD.due_date, OLD.notes,
            OLD.tax_rounding, OLD.service_date, OLD.service_period_start, OLD.service_period_end,
            OLD.seller, OLD.buyer) THEN
        RAISE EXCEPTION 'invoice % is %: an issued invoice never changes', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_issued_are_fixed';
    END IF;
    -- An unknown status is invoices_status_valid's to refuse.
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NEW.status IN ('draft', 'issued', 'paid', 'void') THEN
        IF NOT (OLD.status, NEW.status) IN (('draft', 'issued'), ('draft', 'paid'),
                                            ('issued', 'paid'), ('issued', 'void')) THEN
            RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.id, OLD.status, NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_status_follows_money';
        END IF;
        IF NEW.number IS NULL THEN
            RAISE EXCEPTION 'invoice % cannot be % without a number', OLD.id, NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_status_follows_money';
        END IF;
        total := invoice_total(NEW.account_id, NEW.id, NEW.tax_rounding);
        settled := invoice_settled(NEW.account_id, NEW.id);
        IF (NEW.status = 'paid'
                AND NOT (settled.paid + settled.credited >= total AND (settled.paid > 0 OR total = 0)))
           OR (NEW.status = 'void' AND NOT (settled.paid = 0 AND settled.credited >= total)) THEN
            RAISE EXCEPTION 'invoice % cannot be %: total %, paid %, credited %',
                OLD.id, NEW.status, total, settled.paid, settled.credited
                USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_status_follows_money';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER invoices_guard
    BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION guard_invoice();

-- Only a draft's lines change. (A draft's delete cascades to its lines; its
-- row is gone by then, which lets them go.) The owner's tools are trusted:
-- the importer loads the lines of invoices that are issued already.
CREATE FUNCTION guard_invoice_item() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    line record;
    invoice_status text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        line := OLD;
    ELSE
        line := NEW;
    END IF;
    IF (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN line;
    END IF;
    SELECT status INTO invoice_status FROM invoices
    WHERE account_id = line.account_id AND id = line.invoice_id;
    IF invoice_status IS NOT NULL AND invoice_status <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is %: its lines never change', line.invoice_id, invoice_status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_issued_are_fixed';
    END IF;
    RETURN line;
END
$$;

CREATE TRIGGER invoice_items_guard
    BEFORE INSERT OR UPDATE OR DELETE ON invoice_items
    FOR EACH ROW EXECUTE FUNCTION guard_invoice_item();
