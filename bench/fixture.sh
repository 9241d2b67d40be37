# Sourced by bench/http.sh and bench/instructions-read.sh: the data the
# read endpoint returns. Needs $work (a temporary folder), $base (the app's
# address), $operator_token and $reader set; sets $documents.
#
# D11: the operator uploads the evidence every registration names once, a
# form AA08 and an identity document (blank one-page PDFs, one each).
blank_pdf() { # a comment to tell the two apart
  local file="$work/$1.pdf" o1 o2 o3 xref
  printf '%%PDF-1.4\n%% %s\n' "$1" >"$file"
  o1=$(wc -c <"$file")
  printf '1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n' >>"$file"
  o2=$(wc -c <"$file")
  printf '2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n' >>"$file"
  o3=$(wc -c <"$file")
  printf '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n' >>"$file"
  xref=$(wc -c <"$file")
  printf 'xref\n0 4\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n%010d 00000 n \n' \
    "$o1" "$o2" "$o3" >>"$file"
  printf 'trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' "$xref" >>"$file"
  echo "$file"
}
upload() { # kind, file: prints the stored document's SHA-256
  curl -fs -X POST "$base/v1/counter/documents?kind=$1" -H "Authorization: Bearer $operator_token" \
    -H 'Content-Type: application/pdf' --data-binary "@$2" | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/'
}
documents="[\"$(upload aa08 "$(blank_pdf aa08)")\",\"$(upload identity_document "$(blank_pdf identity)")\"]"
# The reader's delegation, so that the list the read endpoint returns is not empty.
curl -fs -X POST "$base/v1/counter/delegations" -H "Authorization: Bearer $operator_token" \
  -H 'Content-Type: application/json' \
  -d "{\"grantor\":\"$reader\",\"delegate\":\"BNCGNN80A01F205W\",\"documents\":$documents}" >/dev/null
