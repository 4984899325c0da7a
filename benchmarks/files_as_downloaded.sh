#!/usr/bin/env bash
# The files of issue 21's done-when, as downloaded, through schema, train and predict on main (default options).
# Usage (from the repository root, ../shared/data beside it): bash benchmarks/files_as_downloaded.sh benchmarks/results/files_as_downloaded_DATE.md
set -u
cd "$(dirname "$0")/.."
N=".venv/bin/needmap"
W=${WORK:-/tmp/needmap-as-downloaded}; mkdir -p "$W"
S=../shared/data
export COLUMNS=150
run() { echo; echo "\$ $*"; echo '```'; "$@" 2>&1 | sed -e 's/[[:space:]]*$//'; echo "exit ${PIPESTATUS[0]}"; echo '```'; }
{
echo "# Files as downloaded through schema, train and predict ($(date -u +%F), commit $(git rev-parse --short HEAD))"
.venv/bin/python benchmarks/make_cdnow_like.py --out $W/cdnow_like.txt --seed 0 > /dev/null
.venv/bin/python benchmarks/make_cdnow_like.py --out $W/cdnow_new.txt --seed 1 --customers 2000 > /dev/null
echo; echo "First lines of the generated log:"; echo '```'; head -4 $W/cdnow_like.txt; echo '```'
echo; echo "First lines of adult.data.gz and adult.test.gz:"; echo '```'; zcat $S/census_income_adult/adult.data.gz | head -2; zcat $S/census_income_adult/adult.test.gz | head -3; echo '```'
run $N schema $S/census_income_adult/adult.data.gz --target column_15
run $N train $S/census_income_adult/adult.data.gz --target column_15 --out $W/m_adult
run $N predict $W/m_adult $S/census_income_adult/adult.test.gz --out $W/adult_scores.csv
echo; echo '```'; head -3 $W/adult_scores.csv; echo '```'
run $N schema $W/cdnow_like.txt
run $N train $W/cdnow_like.txt --target dollar_value --out $W/m_cdnow
run $N predict $W/m_cdnow $W/cdnow_new.txt --out $W/cdnow_scores.csv
echo; echo '```'; head -3 $W/cdnow_scores.csv; echo '```'
run $N schema $S/online_shoppers_intention/online_shoppers_intention.csv.gz --target Revenue
run $N train $S/online_shoppers_intention/online_shoppers_intention.csv.gz --target Revenue --out $W/m_shoppers
run $N predict $W/m_shoppers $S/online_shoppers_intention/online_shoppers_intention.csv.gz --out $W/shoppers_scores.csv
} > "${1:-$W/out.md}"
