"""Pieces every domain uses: the one error type, turned into JSON in one place (errors); times
stored in UTC and shown in China time (timefmt); one page of a list (paging); JSON text passed on
as made (raw_json); the characters no name, address or remark may hold (text_checks); forms as
data (forms); building and reading the region hierarchy (regions); xlsx writing in which user
text never becomes a formula (excel); and the Chinese font generated images draw with (fonts)."""
