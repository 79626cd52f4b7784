"""The national-scale comparison of issue 16: DuckDB reading the same CSV
files as `suivi bench --scales 100 --dir DIR` with declared types, and
computing the RSA new-entrant family (foyers_entrants, their first commune
and orientation delay) and RSA-02 by territory and month, the steps that
dominate suivi's work. It does less than suivi: no rejects, no pseudonyms,
no masking, no workbooks. Kept out of the tests and of CI.

    pip install duckdb
    python3 bench/duckdb_compare.py DIR/scale-100-clean [runs]
"""

import resource
import statistics
import subprocess
import sys
import time

SCRIPT = r"""
import duckdb, sys
folder, territories = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f'''
CREATE TABLE caf AS SELECT * FROM read_csv('{folder}/caf_rsa_2020.csv', delim=';', header=true,
  columns={{'MOISREF':'VARCHAR','NUMALLOC':'VARCHAR','DTOUVDRT':'VARCHAR','CODCOM':'VARCHAR',
           'SDD':'INTEGER','ETATDRT':'INTEGER','NBPERS':'INTEGER','MTRSAVERS':'VARCHAR'}});
CREATE TABLE caf_rsa AS SELECT
  make_date(CAST(MOISREF[1:4] AS INTEGER), CAST(MOISREF[5:6] AS INTEGER), 1) AS moisref,
  NUMALLOC AS numalloc, strptime(DTOUVDRT, '%d/%m/%Y')::DATE AS date_ouverture,
  CODCOM AS commune, SDD = 1 AS sdd, ETATDRT AS etat_droit, NBPERS AS nb_personnes,
  CAST(replace(MTRSAVERS, ',', '.') AS DECIMAL(12,2)) AS montant_verse FROM caf;
DROP TABLE caf;
CREATE TABLE orientations AS SELECT "N° allocataire" AS numalloc,
  strptime("Date d'orientation", '%d/%m/%Y')::DATE AS date_orientation
  FROM read_csv('{folder}/departement_insertion_2020_orientations.csv', delim=';', header=true, all_varchar=true)
  WHERE "Date d'orientation" IS NOT NULL;
CREATE TABLE territoires AS SELECT * FROM read_csv('{territories}', header=true, all_varchar=true);
CREATE TABLE foyers_entrants AS
SELECT numalloc, date_ouverture, premier_mois FROM (
  SELECT numalloc,
    MIN(CASE WHEN date_ouverture BETWEEN DATE '2020-01-01' AND DATE '2020-12-31' THEN date_ouverture END) AS date_ouverture,
    MAX(CASE WHEN sdd THEN 1 ELSE 0 END) AS sdd, MIN(moisref) AS premier_mois
  FROM caf_rsa WHERE moisref BETWEEN DATE '2020-01-01' AND DATE '2020-12-31' GROUP BY numalloc
) WHERE date_ouverture IS NOT NULL AND sdd = 1;
CREATE TABLE nouveaux_entrants AS
WITH ne_commune AS (
  SELECT caf.numalloc, MIN(caf.commune) AS commune FROM caf_rsa caf
  JOIN foyers_entrants ne ON caf.numalloc = ne.numalloc AND caf.moisref = ne.premier_mois
  GROUP BY caf.numalloc),
orientation AS (
  SELECT o.numalloc, MIN(o.date_orientation) AS date_orientation FROM orientations o
  JOIN foyers_entrants ne ON o.numalloc = ne.numalloc
  WHERE o.date_orientation >= ne.date_ouverture GROUP BY o.numalloc)
SELECT ne.*, c.commune, o.date_orientation, o.date_orientation - ne.date_ouverture AS delai
FROM foyers_entrants ne LEFT JOIN ne_commune c USING (numalloc) LEFT JOIN orientation o USING (numalloc);
''')
rsa01 = con.execute('''SELECT t.territoire, month(ne.date_ouverture) AS mois, COUNT(*), AVG(delai)
  FROM nouveaux_entrants ne LEFT JOIN territoires t ON t.code_commune = ne.commune
  GROUP BY ALL''').fetchall()
rsa02 = con.execute('''SELECT t.territoire, COUNT(DISTINCT numalloc) FROM caf_rsa c
  LEFT JOIN territoires t ON t.code_commune = c.commune
  WHERE moisref = DATE '2020-12-01' AND etat_droit = 2 GROUP BY ALL''').fetchall()
print(len(rsa01), len(rsa02), sum(r[1] for r in rsa02))
"""


def main():
    folder = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    territories = "inputs/referentiel/territoires_loire.csv"
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", SCRIPT, folder, territories], check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"duckdb: wall {statistics.median(walls):.2f} s (median of {runs}), "
        f"cpu {statistics.median(cpus):.1f} s, peak {peak_mib:.0f} MiB"
    )


if __name__ == "__main__":
    main()
