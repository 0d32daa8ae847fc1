/*
 * A shared library that is not libdaos: it has daos_init but none of the
 * other symbols the connector needs. Loading it must fail with
 * PS_EUNAVAILABLE naming the first missing symbol.
 */
int daos_init(void);

int daos_init(void)
{
    return 0;
}
