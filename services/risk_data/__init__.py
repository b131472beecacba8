"""The facts the colour rules read and where they come from: the checked entry paths of each fact,
recomputing the people it touches (risk_inputs); risk records put in by kind, shared by the Excel
risk lists, the one-person form and the partner feed (risk_records); what the 风险数据 page reads
and writes for the account signed in (risk_record_desk); high- and medium-risk areas and key
regions (risk_areas); the country's administrative divisions they are picked from (divisions);
partner systems' signed batches of risk records (partner_feed); compounds with active cases near
a point (nearby); and the health authority's back-office roles that own this data
(health_authority)."""
