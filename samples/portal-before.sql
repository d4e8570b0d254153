-- Portal state before the Skolon integration (rosterdrop-samples demo).
INSERT INTO organisations(id) VALUES ('exempel-kommun'), ('friskolan-norr');

INSERT INTO accounts(id, organisation_id, person_id, email, given_name, family_name, role, school_unit_code, grade, eppn, identity_source, created_at, updated_at) VALUES
  (1000, 'exempel-kommun', NULL, 'Bjorn.Aberg75@Exempel.se', 'Björn', 'Åberg', 'student', '23456789', '4', NULL, 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1001, 'exempel-kommun', NULL, 'Jorgen.Soderberg113@Exempel.se', 'Jörgen', 'Söderberg', 'student', '23456789', '2', NULL, 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1002, 'exempel-kommun', NULL, 'LUDVIG.STROMBERG35@EXEMPEL.SE', 'Ludvig', 'Strömberg', 'student', '12345678', '7', NULL, 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1003, 'exempel-kommun', NULL, 'Anton.Soderberg117@Exempel.se', 'Anton', 'Söderberg', 'student', '23456789', '4', NULL, 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1004, 'exempel-kommun', NULL, 'Noah.Wikstrom2@Exempel.se', 'Noah', 'Wikström', 'teacher', '12345678', NULL, NULL, 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1005, 'exempel-kommun', NULL, 'Amir.Hakansson@Exempel.se', 'Amir', 'Håkansson', 'teacher', NULL, NULL, NULL, 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z');

INSERT INTO groups(id, organisation_id, external_id, name, type, school_unit_code, source, created_at, updated_at) VALUES
  (1000, 'exempel-kommun', NULL, 'Läsklubben', 'teaching_group', NULL, 'manual', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1001, 'exempel-kommun', NULL, 'Klass 7A (portalen)', 'class', '12345678', 'manual', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z');

INSERT INTO memberships(group_id, account_id) VALUES (1000, 1000), (1000, 1005), (1001, 1000), (1001, 1001), (1001, 1002);

INSERT INTO licenses(id, organisation_id, order_id, account_id, product_id, license_type, valid_from, valid_to, source, created_at, updated_at) VALUES
  (1000, 'exempel-kommun', NULL, 1000, '9789140123459', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1001, 'exempel-kommun', NULL, 1001, '9789140123466', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1002, 'exempel-kommun', NULL, 1002, '9789140234568', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1003, 'exempel-kommun', NULL, 1003, '9789140123459', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1004, 'exempel-kommun', NULL, 1004, '9789140123466', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z'),
  (1005, 'exempel-kommun', NULL, 1005, '9789140999993', 'paid', '2026-07-01', '2027-06-30', 'portal', '2025-09-01T08:00:00Z', '2025-09-01T08:00:00Z');
